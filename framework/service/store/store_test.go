package store

import (
	"errors"
	"path/filepath"
	"testing"
)

type rec struct {
	Name string
	N    int
}

func TestStoreSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put("apps", "a/1", rec{"a", 1}); err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx *Tx) error {
		if err := tx.Put("apps", "a/2", rec{"a", 2}); err != nil {
			return err
		}
		return tx.Put("apps", "b/1", rec{"b", 1})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := s.Put("apps", "x", rec{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close = %v", err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got rec
	if ok, err := s.Get("apps", "a/2", &got); !ok || err != nil || got.N != 2 {
		t.Fatalf("Get = %v %v %+v", ok, err, got)
	}
	if ok, _ := s.Get("apps", "missing", &got); ok {
		t.Fatal("missing key found")
	}
	if ok, _ := s.Get("nobucket", "k", &got); ok {
		t.Fatal("missing bucket found")
	}
	as, err := List[rec](s, "apps", "a/")
	if err != nil || len(as) != 2 || as[0].N != 1 || as[1].N != 2 {
		t.Fatalf("List a/ = %+v, %v", as, err)
	}
	if err := s.Update(func(tx *Tx) error { return tx.DeletePrefix("apps", "a/") }); err != nil {
		t.Fatal(err)
	}
	all, _ := List[rec](s, "apps", "")
	if len(all) != 1 || all[0].Name != "b" {
		t.Fatalf("after DeletePrefix: %+v", all)
	}
	if err := s.Delete("apps", "b/1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("nobucket", "k"); err != nil {
		t.Fatal(err)
	}
	all, _ = List[rec](s, "apps", "")
	if len(all) != 0 {
		t.Fatalf("after Delete: %+v", all)
	}
}

func TestUpdateIsAtomic(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	boom := errors.New("boom")
	err = s.Update(func(tx *Tx) error {
		if err := tx.Put("b", "k", rec{"x", 1}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	var got rec
	if ok, _ := s.Get("b", "k", &got); ok {
		t.Fatal("write of a failed transaction landed")
	}
}
