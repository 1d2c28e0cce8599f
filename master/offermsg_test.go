package master

import (
	"fmt"
	"testing"

	"github.com/agora-cluster/agora/sdk/wire"
)

// TestOfferMessagesSplitLargePasses: a framework's offers go in one
// message, split in order only past wire.MaxBatch offers.
func TestOfferMessagesSplitLargePasses(t *testing.T) {
	mk := func(n int) []wire.Offer {
		out := make([]wire.Offer, n)
		for i := range out {
			out[i].ID = wire.OfferID(fmt.Sprintf("o%d", i))
		}
		return out
	}
	if got := offerMessages(mk(3)); len(got) != 1 || len(got[0].Offers) != 3 {
		t.Fatalf("3 offers became %d messages", len(got))
	}
	offers := mk(2*wire.MaxBatch + 500)
	msgs := offerMessages(offers)
	if len(msgs) != 3 || len(msgs[0].Offers) != wire.MaxBatch || len(msgs[2].Offers) != 500 {
		t.Fatalf("split into %d messages", len(msgs))
	}
	i := 0
	for _, m := range msgs {
		for _, o := range m.Offers {
			if o.ID != offers[i].ID {
				t.Fatalf("offer %d is %s, want %s", i, o.ID, offers[i].ID)
			}
			i++
		}
	}
	if i != len(offers) {
		t.Fatalf("%d of %d offers sent", i, len(offers))
	}
	if len(offerMessages(nil)) != 0 {
		t.Fatal("no offers gave a message")
	}
}
