package events

import "testing"

func TestHubNumbersKeepsAndFansOut(t *testing.T) {
	h := NewHub(3)
	for i := 0; i < 5; i++ {
		h.Publish(Event{Type: InstanceStatus})
	}
	if h.Last() != 5 {
		t.Fatalf("Last = %d", h.Last())
	}
	kept := h.Since(0)
	if len(kept) != 3 || kept[0].Seq != 3 || kept[2].Seq != 5 {
		t.Fatalf("kept %+v", kept)
	}
	backlog, ch, cancel := h.Subscribe(4, 8)
	if len(backlog) != 1 || backlog[0].Seq != 5 {
		t.Fatalf("backlog %+v", backlog)
	}
	h.Publish(Event{Type: AppDeployed, App: "a"})
	if e := <-ch; e.Seq != 6 || e.App != "a" || e.Time.IsZero() {
		t.Fatalf("got %+v", e)
	}
	cancel()
	cancel()
	if _, ok := <-ch; ok {
		t.Fatal("channel open after cancel")
	}
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	h := NewHub(10)
	_, ch, cancel := h.Subscribe(0, 2)
	defer cancel()
	for i := 0; i < 5; i++ {
		h.Publish(Event{})
	}
	n := 0
	for range ch {
		n++
	}
	if n != 2 {
		t.Fatalf("slow subscriber got %d events before being dropped, want 2", n)
	}
}

func TestClose(t *testing.T) {
	h := NewHub(0)
	_, ch, _ := h.Subscribe(0, 1)
	h.Close()
	if _, ok := <-ch; ok {
		t.Fatal("open after Close")
	}
	_, ch2, cancel := h.Subscribe(0, 1)
	cancel()
	if _, ok := <-ch2; ok {
		t.Fatal("subscription after Close is open")
	}
}
