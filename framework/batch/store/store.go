// Package store keeps the batch framework's state in a bbolt file: jobs,
// runs and task attempts. Every change is written through [Store.Apply],
// one transaction (and one fsync) for a whole batch of changes, so the
// engine can group many updates into one commit.
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agora-cluster/agora/framework/batch/record"
)

// ErrNotFound is returned for a missing job or run.
var ErrNotFound = errors.New("not found")

var (
	bMeta     = []byte("meta")
	bJobs     = []byte("jobs")
	bRuns     = []byte("runs")
	bJobRuns  = []byte("jobruns")
	bAttempts = []byte("attempts")

	kSchema    = []byte("schema")
	kLastRunID = []byte("last_run_id")
)

const schemaVersion = 1

// Options tune the store.
type Options struct {
	// NoSync skips fsync on commit: faster, and safe against a process
	// crash but not against a machine crash. For tests and benchmarks.
	NoSync bool
	// Timeout bounds waiting for another process's lock on the file
	// (default 2 s).
	Timeout time.Duration
}

// Store is an open state file.
type Store struct {
	db *bolt.DB
}

// Open opens (creating if needed) the state file at path.
func Open(path string, opts Options) (*Store, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, NoSync: opts.NoSync})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bMeta, bJobs, bRuns, bJobRuns, bAttempts} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		if v := meta.Get(kSchema); v != nil && binary.BigEndian.Uint64(v) != schemaVersion {
			return fmt.Errorf("schema version %d, this build reads %d", binary.BigEndian.Uint64(v), schemaVersion)
		}
		return meta.Put(kSchema, u64(schemaVersion))
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: init %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func attemptKey(instance, n int) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, uint32(instance))
	binary.BigEndian.PutUint32(b[4:], uint32(n))
	return b
}

// Batch is a set of changes applied in one transaction: deletions first,
// then writes.
type Batch struct {
	PutJobs     []record.Job
	DeleteJobs  []string
	PutRuns     []record.Run
	DeleteRuns  []uint64
	PutAttempts []record.Attempt
	// LastRunID, if larger than the stored one, replaces it.
	LastRunID uint64
}

// Empty reports whether b changes nothing.
func (b *Batch) Empty() bool {
	return len(b.PutJobs)+len(b.DeleteJobs)+len(b.PutRuns)+len(b.DeleteRuns)+len(b.PutAttempts) == 0 && b.LastRunID == 0
}

// Apply writes b in one transaction.
func (s *Store) Apply(b *Batch) error {
	if b.Empty() {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range b.DeleteJobs {
			if err := deleteJob(tx, name); err != nil {
				return err
			}
		}
		for _, id := range b.DeleteRuns {
			if err := deleteRun(tx, id); err != nil {
				return err
			}
		}
		jobs := tx.Bucket(bJobs)
		for i := range b.PutJobs {
			v, err := json.Marshal(&b.PutJobs[i])
			if err != nil {
				return err
			}
			if err := jobs.Put([]byte(b.PutJobs[i].Spec.Name), v); err != nil {
				return err
			}
		}
		runs, jobRuns := tx.Bucket(bRuns), tx.Bucket(bJobRuns)
		for i := range b.PutRuns {
			r := &b.PutRuns[i]
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := runs.Put(u64(r.ID), v); err != nil {
				return err
			}
			idx, err := jobRuns.CreateBucketIfNotExists([]byte(r.Job))
			if err != nil {
				return err
			}
			if err := idx.Put(u64(r.ID), nil); err != nil {
				return err
			}
		}
		atts := tx.Bucket(bAttempts)
		var cur *bolt.Bucket
		var curRun uint64
		for i := range b.PutAttempts {
			a := &b.PutAttempts[i]
			if cur == nil || curRun != a.Run {
				var err error
				if cur, err = atts.CreateBucketIfNotExists(u64(a.Run)); err != nil {
					return err
				}
				curRun = a.Run
			}
			v, err := json.Marshal(a)
			if err != nil {
				return err
			}
			if err := cur.Put(attemptKey(a.Instance, a.N), v); err != nil {
				return err
			}
		}
		if b.LastRunID > 0 {
			meta := tx.Bucket(bMeta)
			if old := meta.Get(kLastRunID); old == nil || binary.BigEndian.Uint64(old) < b.LastRunID {
				if err := meta.Put(kLastRunID, u64(b.LastRunID)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: apply: %w", err)
	}
	return nil
}

func deleteRun(tx *bolt.Tx, id uint64) error {
	runs := tx.Bucket(bRuns)
	if v := runs.Get(u64(id)); v != nil {
		var r record.Run
		if err := json.Unmarshal(v, &r); err == nil {
			if idx := tx.Bucket(bJobRuns).Bucket([]byte(r.Job)); idx != nil {
				if err := idx.Delete(u64(id)); err != nil {
					return err
				}
			}
		}
		if err := runs.Delete(u64(id)); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bAttempts).DeleteBucket(u64(id)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
		return err
	}
	return nil
}

func deleteJob(tx *bolt.Tx, name string) error {
	if idx := tx.Bucket(bJobRuns).Bucket([]byte(name)); idx != nil {
		var ids []uint64
		if err := idx.ForEach(func(k, _ []byte) error {
			ids = append(ids, binary.BigEndian.Uint64(k))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range ids {
			if err := deleteRun(tx, id); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bJobRuns).DeleteBucket([]byte(name)); err != nil {
			return err
		}
	}
	return tx.Bucket(bJobs).Delete([]byte(name))
}
