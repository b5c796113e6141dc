package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/internal/sqlcore"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Store is a sessionkit.Store in an SQLite file. It also implements
// sessionkit.Principals, sessionkit.Generations,
// sessionkit.MultiGenerations and sessionkit.ExpiringGenerations. Its
// methods are safe for concurrent use, by many goroutines and many
// processes sharing the file.
type Store = sqlcore.Store

var (
	// ErrBusy reports that a write waited longer than Config.BusyTimeout
	// for another connection or process to release the file's write
	// lock. Such errors also wrap sessionkit.ErrUnavailable, so the
	// Manager answers 503 and the client may retry.
	ErrBusy = sqlcore.ErrBusy

	// ErrKey reports a session key the store cannot hold: one that is
	// not valid UTF-8 or that contains a NUL byte. Nothing was written.
	ErrKey = sqlcore.ErrKey
)

// Options are the settings sqlitestore shares with pgstore: the janitor,
// Update's attempts and the logger; the zero value is the default.
type Options = sqlcore.Options

// Config configures a Store. Its zero value but Path is the default.
type Config struct {
	// Path is the database file, created if needed: a plain path on a
	// local disk (WAL needs shared memory between the processes), not
	// ":memory:" nor a "file:" URI. Required.
	Path string

	// MaxConns is the size of the connection pool. Default: the larger
	// of 4 and the number of CPUs.
	MaxConns int

	// BusyTimeout is how long a write waits for another process to
	// release the file's write lock before failing with ErrBusy. Default
	// 5 seconds.
	BusyTimeout time.Duration

	Options
}

// New opens a Store in the SQLite file cfg.Path, creating it if needed.
// Several processes may open the same file: the database runs in WAL mode
// (readers never wait for the writer), and writes wait up to
// cfg.BusyTimeout for the file's write lock. Every write is a single
// statement, which takes the write lock before it reads, and the one
// multi-statement transaction (the migrations) begins IMMEDIATE, so no
// writer can deadlock upgrading a read lock. Writes are
// synchronous=NORMAL: a commit survives a crash of the process, and all but
// the last few survive a power loss.
func New(ctx context.Context, cfg Config) (*Store, error) {
	path := cfg.Path
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlitestore: path %q: want a plain file path", path)
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = 5 * time.Second
	}
	dsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate",
		path, cfg.BusyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	n := cfg.MaxConns
	if n <= 0 {
		n = max(4, runtime.NumCPU())
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	d := &sqliteDB{db: db, busyTimeout: cfg.BusyTimeout}
	d.sqlQuerier = sqlQuerier{stmt: d.stmts.prepared(db), wmu: &d.wmu}
	return sqlcore.Open(ctx, d, cfg.Options)
}

// Open opens a Store in the SQLite file at path, with the other settings
// at their defaults.
func Open(ctx context.Context, path string) (*Store, error) {
	return New(ctx, Config{Path: path})
}

// sqliteDB is the SQLite dialect.
type sqliteDB struct {
	sqlQuerier
	db          *sql.DB
	busyTimeout time.Duration
	// wmu lets one write of this process at a time ask for the file's
	// write lock, so that the process's own writers queue here, in
	// order, instead of polling the lock through the busy handler.
	wmu   sync.Mutex
	stmts stmtCache
}

func (*sqliteDB) Name() string { return "sqlitestore" }

// json_patch merges objects recursively and deletes members patched with
// null, which is why values are stored as strings: $5 is an object that
// maps each deleted key to null.
func (*sqliteDB) DataExpr() string { return "json_patch(json_patch(data, $5), $4)" }

func (*sqliteDB) DeletedArg(keys []string) (any, error) {
	if len(keys) == 0 {
		return "{}", nil
	}
	m := make(map[string]any, len(keys))
	for _, k := range keys {
		m[k] = nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// InNames reads the names from DeletedArg's object, whose members they are.
func (*sqliteDB) InNames() string { return "principal IN (SELECT key FROM json_each($1))" }

func (*sqliteDB) ValueExpr() string {
	return "(SELECT value FROM json_each(data) WHERE key = $3)"
}

func (*sqliteDB) Busy(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

func (d *sqliteDB) Close() {
	d.stmts.close()
	d.db.Close()
}

// migrationTx runs fn in one IMMEDIATE transaction. Processes opening a
// fresh file together race to switch it to WAL, and SQLite answers the
// losers SQLITE_BUSY at once, without waiting in its busy handler; so a
// busy answer is retried here, with backoff, for up to the busy timeout.
func (d *sqliteDB) MigrationTx(ctx context.Context, fn func(sqlcore.Querier) error) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	deadline := time.Now().Add(d.busyTimeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		err := d.tryTx(ctx, fn)
		if err == nil || !d.Busy(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func (d *sqliteDB) tryTx(ctx context.Context, fn func(sqlcore.Querier) error) error {
	tx, err := d.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock at once
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt := func(ctx context.Context, query string) (*sql.Stmt, func() error, error) {
		st, err := tx.PrepareContext(ctx, query)
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	}
	if err := fn(sqlQuerier{stmt: stmt}); err != nil {
		return err
	}
	return tx.Commit()
}

// stmtCache holds the pool's prepared statements, one per query: SQLite
// parses a statement in more time than it takes to run most of the
// store's, and database/sql prepares a query afresh each time it is given
// as text (a cookie node spent 14% of its CPU in SQLite's parser). The
// store runs a fixed set of queries, so the cache is bounded (tests that
// query through sqlcore.DB add theirs).
type stmtCache struct {
	m sync.Map // query → *sql.Stmt
}

// prepared returns a stmt function for sqlQuerier that prepares each
// query once on db; database/sql prepares it again on each connection
// that runs it, once.
func (c *stmtCache) prepared(db *sql.DB) func(context.Context, string) (*sql.Stmt, func() error, error) {
	keep := func() error { return nil }
	return func(ctx context.Context, query string) (*sql.Stmt, func() error, error) {
		if st, ok := c.m.Load(query); ok {
			return st.(*sql.Stmt), keep, nil
		}
		st, err := db.PrepareContext(ctx, query)
		if err != nil {
			return nil, nil, err
		}
		if prev, loaded := c.m.LoadOrStore(query, st); loaded {
			st.Close()
			return prev.(*sql.Stmt), keep, nil
		}
		return st, keep, nil
	}
}

func (c *stmtCache) close() {
	c.m.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
}

// sqlQuerier runs statements on a database/sql pool or transaction.
type sqlQuerier struct {
	// stmt returns query prepared, and what to call when done with it.
	stmt func(ctx context.Context, query string) (*sql.Stmt, func() error, error)
	wmu  *sync.Mutex // nil in a transaction, which holds it already
}

func (s sqlQuerier) lock() func() {
	if s.wmu == nil {
		return func() {}
	}
	s.wmu.Lock()
	return s.wmu.Unlock
}

func (s sqlQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	defer s.lock()()
	st, done, err := s.stmt(ctx, query)
	if err != nil {
		return 0, err
	}
	defer done()
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s sqlQuerier) QueryRow(ctx context.Context, query string, args []any, dest ...any) (bool, error) {
	st, done, err := s.stmt(ctx, query)
	if err != nil {
		return false, err
	}
	defer done()
	return sqlcore.Found(st.QueryRowContext(ctx, args...).Scan(dest...), sql.ErrNoRows)
}

func (s sqlQuerier) WriteRow(ctx context.Context, query string, args []any, dest ...any) (bool, error) {
	defer s.lock()()
	return s.QueryRow(ctx, query, args, dest...)
}

func (s sqlQuerier) WriteRows(ctx context.Context, query string, args []any, row func(scan func(...any) error) error) error {
	defer s.lock()()
	return s.Query(ctx, query, args, row)
}

func (s sqlQuerier) Query(ctx context.Context, query string, args []any, row func(scan func(...any) error) error) error {
	st, done, err := s.stmt(ctx, query)
	if err != nil {
		return err
	}
	defer done()
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return sqlcore.EachRow(rows, row)
}
