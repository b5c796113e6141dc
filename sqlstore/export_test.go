package sqlstore

import (
	"bytes"
	"context"
)

// Dump returns everything the store keeps about sessions at rest.
func (s *Store) Dump(ctx context.Context) ([]byte, error) {
	var buf bytes.Buffer
	err := s.db.query(ctx, "SELECT id, principal, data FROM "+table, nil, func(scan func(...any) error) error {
		var id []byte
		var principal, data string
		if err := scan(&id, &principal, &data); err != nil {
			return err
		}
		buf.Write(id)
		buf.WriteString(principal)
		buf.WriteString(data)
		return nil
	})
	return buf.Bytes(), err
}

// Migrations returns the versions recorded in the migrations table.
func (s *Store) Migrations(ctx context.Context) ([]int, error) {
	var vs []int
	err := s.db.query(ctx, "SELECT version FROM sessionkit_migrations ORDER BY version", nil, func(scan func(...any) error) error {
		var v int
		err := scan(&v)
		vs = append(vs, v)
		return err
	})
	return vs, err
}

// Rows returns the number of rows in the sessions table, expired ones
// included.
func (s *Store) Rows(ctx context.Context) (int, error) {
	var n int
	_, err := s.db.queryRow(ctx, "SELECT count(*) FROM "+table, nil, &n)
	return n, err
}
