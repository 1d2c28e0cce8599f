package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/agora-cluster/agora/framework/batch/record"
)

// Jobs returns every job, in name order.
func (s *Store) Jobs() ([]record.Job, error) {
	var out []record.Job
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bJobs).ForEach(func(k, v []byte) error {
			var j record.Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("job %s: %w", k, err)
			}
			out = append(out, j)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: jobs: %w", err)
	}
	return out, nil
}

// LastRunID returns the highest run ID ever handed out (0 if none).
func (s *Store) LastRunID() (uint64, error) {
	var id uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bMeta).Get(kLastRunID); v != nil {
			id = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return id, err
}

// ActiveRuns returns the runs that are not over, in ID order.
func (s *Store) ActiveRuns() ([]record.Run, error) {
	var out []record.Run
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bRuns).ForEach(func(k, v []byte) error {
			var r record.Run
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("run %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if !r.State.Terminal() {
				out = append(out, r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: active runs: %w", err)
	}
	return out, nil
}

// Run returns one run.
func (s *Store) Run(id uint64) (record.Run, error) {
	var r record.Run
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bRuns).Get(u64(id))
		if v == nil {
			return fmt.Errorf("run %d: %w", id, ErrNotFound)
		}
		return json.Unmarshal(v, &r)
	})
	return r, err
}

// JobRuns returns up to limit runs of a job with IDs below before (0: no
// bound), newest first. limit ≤ 0 means all.
func (s *Store) JobRuns(job string, limit int, before uint64) ([]record.Run, error) {
	var out []record.Run
	err := s.db.View(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bJobRuns).Bucket([]byte(job))
		if idx == nil {
			return nil
		}
		runs := tx.Bucket(bRuns)
		c := idx.Cursor()
		var k []byte
		if before == 0 {
			k, _ = c.Last()
		} else {
			c.Seek(u64(before))
			k, _ = c.Prev()
		}
		for ; k != nil && (limit <= 0 || len(out) < limit); k, _ = c.Prev() {
			v := runs.Get(k)
			if v == nil {
				continue
			}
			var r record.Run
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("run %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: runs of %s: %w", job, err)
	}
	return out, nil
}

// JobRunIDs returns the IDs of a job's runs, oldest first.
func (s *Store) JobRunIDs(job string) ([]uint64, error) {
	var out []uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bJobRuns).Bucket([]byte(job))
		if idx == nil {
			return nil
		}
		return idx.ForEach(func(k, _ []byte) error {
			out = append(out, binary.BigEndian.Uint64(k))
			return nil
		})
	})
	return out, err
}

// Attempts returns a run's attempts ordered by instance, then attempt.
func (s *Store) Attempts(run uint64) ([]record.Attempt, error) {
	var out []record.Attempt
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bAttempts).Bucket(u64(run))
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var a record.Attempt
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: attempts of run %d: %w", run, err)
	}
	return out, nil
}
