// Package store is the service framework's durable state: a bbolt file
// of JSON records in named buckets. Every write is committed (and
// fsynced) before it returns, so a restarted framework finds what it was
// told before it stopped.
package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrClosed is returned after Close.
var ErrClosed = errors.New("store: closed")

// Store is a bbolt database of JSON records.
type Store struct {
	db *bolt.DB
}

// Open opens (creating if needed) the database at path.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database; it is safe to call twice.
func (s *Store) Close() error {
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

// Tx is a read-write transaction: every write in it lands or none does.
type Tx struct {
	tx *bolt.Tx
}

// Put stores v as JSON under key in bucket.
func (t *Tx) Put(bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s/%s: %w", bucket, key, err)
	}
	b, err := t.tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return fmt.Errorf("store: bucket %s: %w", bucket, err)
	}
	return b.Put([]byte(key), data)
}

// Delete removes key from bucket; a missing key is not an error.
func (t *Tx) Delete(bucket, key string) error {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.Delete([]byte(key))
}

// DeletePrefix removes every key of bucket that starts with prefix.
func (t *Tx) DeletePrefix(bucket, prefix string) error {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Update runs fn in one read-write transaction.
func (s *Store) Update(fn func(*Tx) error) error {
	if s.db == nil {
		return ErrClosed
	}
	return s.db.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Put stores one record.
func (s *Store) Put(bucket, key string, v any) error {
	return s.Update(func(tx *Tx) error { return tx.Put(bucket, key, v) })
}

// Delete removes one record.
func (s *Store) Delete(bucket, key string) error {
	return s.Update(func(tx *Tx) error { return tx.Delete(bucket, key) })
}

// Get decodes the record under key into v and reports whether it exists.
func (s *Store) Get(bucket, key string, v any) (bool, error) {
	if s.db == nil {
		return false, ErrClosed
	}
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		data := b.Get([]byte(key))
		if data == nil {
			return nil
		}
		found = true
		if err := json.Unmarshal(data, v); err != nil {
			return fmt.Errorf("store: decode %s/%s: %w", bucket, key, err)
		}
		return nil
	})
	return found, err
}

// Each calls fn for every record of bucket whose key starts with prefix,
// in key order. fn must not keep data after it returns.
func (s *Store) Each(bucket, prefix string, fn func(key string, data []byte) error) error {
	if s.db == nil {
		return ErrClosed
	}
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
			if err := fn(string(k), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// List decodes every record of bucket under prefix into a new T each.
func List[T any](s *Store, bucket, prefix string) ([]T, error) {
	var out []T
	err := s.Each(bucket, prefix, func(key string, data []byte) error {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("store: decode %s/%s: %w", bucket, key, err)
		}
		out = append(out, v)
		return nil
	})
	return out, err
}
