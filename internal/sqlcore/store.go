package sqlcore

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/expiry"
	"github.com/sessionkit/sessionkit/internal/retry"
	"github.com/sessionkit/sessionkit/internal/tick"
	"github.com/sessionkit/sessionkit/internal/token"
)

// Store is a sessionkit.Store in PostgreSQL or SQLite. It also implements
// sessionkit.Principals and sessionkit.Generations. Its methods are safe for
// concurrent use, by many goroutines and many processes sharing the
// database.
type Store struct {
	db   Dialect
	q    statements
	cfg  Options
	near *Cache // nil unless the dialect keeps a near cache

	ctx     context.Context // canceled by Close, for the janitor
	cancel  context.CancelFunc
	expired expiry.Notifier
	done    chan struct{}
	once    sync.Once
}

var (
	_ sessionkit.Store               = (*Store)(nil)
	_ sessionkit.Principals          = (*Store)(nil)
	_ sessionkit.Generations         = (*Store)(nil)
	_ sessionkit.ExpiringGenerations = (*Store)(nil)
	_ sessionkit.ExpiryNotifier      = (*Store)(nil)
)

// Querier runs statements: a connection pool or a transaction. Every
// dialect takes $N placeholders.
type Querier interface {
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	// QueryRow scans the first row of a read into dest; found is false
	// when there is none.
	QueryRow(ctx context.Context, sql string, args []any, dest ...any) (found bool, err error)
	// WriteRow is QueryRow for a statement that writes (RETURNING).
	WriteRow(ctx context.Context, sql string, args []any, dest ...any) (found bool, err error)
	// Query calls row for each row of a read.
	Query(ctx context.Context, sql string, args []any, row func(scan func(dest ...any) error) error) error
	// WriteRows is Query for a statement that writes (RETURNING).
	WriteRows(ctx context.Context, sql string, args []any, row func(scan func(dest ...any) error) error) error
}

// Found turns the error of scanning one row into QueryRow's answer: not
// found when err is the driver's noRows.
func Found(err, noRows error) (bool, error) {
	if errors.Is(err, noRows) {
		return false, nil
	}
	return err == nil, err
}

// EachRow calls row for each row of rows, as Query does.
func EachRow(rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}, row func(scan func(dest ...any) error) error) error {
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Dialect is what differs between PostgreSQL and SQLite.
type Dialect interface {
	Querier
	// Name is the name of the dialect's package (pgstore, sqlitestore):
	// the prefix of its errors and the folder of its migrations.
	Name() string
	// MigrationTx runs fn in a transaction that no other process runs
	// at the same time.
	MigrationTx(ctx context.Context, fn func(Querier) error) error
	// DataExpr is the expression of a commit's new data from the
	// column data, $4 (setArg's JSON object) and $5 (DeletedArg).
	DataExpr() string
	// DeletedArg returns the argument $5 of DataExpr.
	DeletedArg(keys []string) (any, error)
	// ValueExpr is the expression of the value of key $3 in the column
	// data, NULL when absent.
	ValueExpr() string
	// InNames is the condition that the column principal is one of the
	// names in $1, given as DeletedArg gives keys.
	InNames() string
	// Busy reports whether err is a lock wait that timed out.
	Busy(err error) bool
	Close()
}

// Table is the sessions table.
const Table = "sessionkit_sessions"

// statements are a dialect's SQL. Both dialects take $N placeholders.
type statements struct {
	load, create, touch, renew, del, value, sessions, revoke, generation, generations, generationsTwo, bump, bumpUntil, sweep, sweepReturning, sweepGenerations string
	commit                                                                                                                                                      [2][2]string // [meta][compare-and-set]

	// With a near cache (PostgreSQL only: a data-modifying WITH): the
	// commits and the touch return the row's version, the revoke the
	// rows it deleted, and the compare-and-set the current row whether
	// it applied or not.
	touchVersion, revokeReturning, updateReturning string
	commitVersion                                  [2]string // [meta]
}

// restart is a counter's value before a bump: 0 once it has expired.
const restart = "(CASE WHEN sessionkit_generations.expires_ms <= $2 THEN 0 ELSE sessionkit_generations.generation END)"

const metaColumns = "principal, created_ms, idle_deadline_ms, deadline_ms, idle_timeout_ns, persistent, generation"

func newStatements(d Dialect) statements {
	q := statements{
		load: "SELECT " + metaColumns + ", data, version FROM " + Table + " WHERE id = $1 AND expires_ms > $2",
		create: "INSERT INTO " + Table + " (id, " + metaColumns + ", data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) " +
			"ON CONFLICT (id) DO UPDATE SET principal = excluded.principal, created_ms = excluded.created_ms, " +
			"idle_deadline_ms = excluded.idle_deadline_ms, deadline_ms = excluded.deadline_ms, " +
			"idle_timeout_ns = excluded.idle_timeout_ns, persistent = excluded.persistent, " +
			"generation = excluded.generation, data = excluded.data, version = " + Table + ".version + 1",
		touch:      "UPDATE " + Table + " SET idle_deadline_ms = $3 WHERE id = $1 AND expires_ms > $2",
		renew:      "UPDATE " + Table + " SET id = $3, version = version + 1 WHERE id = $1 AND expires_ms > $2",
		del:        "DELETE FROM " + Table + " WHERE id = $1",
		value:      "SELECT version, " + d.ValueExpr() + " FROM " + Table + " WHERE id = $1 AND expires_ms > $2",
		sessions:   "SELECT id, " + metaColumns + " FROM " + Table + " WHERE principal = $1 AND principal <> '' AND expires_ms > $2",
		revoke:     "DELETE FROM " + Table + " WHERE principal = $1 AND principal <> ''",
		generation: "SELECT generation FROM sessionkit_generations WHERE principal = $1 AND (expires_ms IS NULL OR expires_ms > $2)",
		generations: "SELECT principal, generation FROM sessionkit_generations WHERE " + d.InNames() +
			" AND (expires_ms IS NULL OR expires_ms > $2)",
		generationsTwo: "SELECT principal, generation FROM sessionkit_generations WHERE principal IN ($1, $3)" +
			" AND (expires_ms IS NULL OR expires_ms > $2)",
		// A counter past its expiry starts again from 0; Bump keeps
		// its counter for good, BumpUntil until the latest deadline.
		bump: "INSERT INTO sessionkit_generations (principal, generation) VALUES ($1, 1) " +
			"ON CONFLICT (principal) DO UPDATE SET generation = " + restart + " + 1, expires_ms = NULL RETURNING generation",
		bumpUntil: "INSERT INTO sessionkit_generations (principal, generation, expires_ms) VALUES ($1, 1, $3) " +
			"ON CONFLICT (principal) DO UPDATE SET generation = " + restart + " + 1, expires_ms = CASE " +
			"WHEN sessionkit_generations.expires_ms IS NULL THEN NULL " +
			"WHEN sessionkit_generations.expires_ms <= $2 OR sessionkit_generations.expires_ms < excluded.expires_ms THEN excluded.expires_ms " +
			"ELSE sessionkit_generations.expires_ms END RETURNING generation",
		sweepGenerations: "DELETE FROM sessionkit_generations WHERE principal IN " +
			"(SELECT principal FROM sessionkit_generations WHERE expires_ms <= $1 LIMIT $2)",
		sweep: "DELETE FROM " + Table + " WHERE id IN (SELECT id FROM " + Table + " WHERE expires_ms <= $1 LIMIT $2)",
		// The sweep when expiries are reported: the rows deleted name
		// the sessions, each reported by the one process whose DELETE
		// removed it.
		sweepReturning: "DELETE FROM " + Table + " WHERE id IN (SELECT id FROM " + Table + " WHERE expires_ms <= $1 LIMIT $2) RETURNING id, principal",
	}
	for meta := range 2 {
		for cas := range 2 {
			var b strings.Builder
			b.WriteString("UPDATE " + Table + " SET idle_deadline_ms = $3, version = version + 1, data = " + d.DataExpr())
			next := 6
			if meta == 1 {
				b.WriteString(", principal = $6, created_ms = $7, deadline_ms = $8, idle_timeout_ns = $9, persistent = $10, generation = $11")
				next = 12
			}
			b.WriteString(" WHERE id = $1 AND expires_ms > $2")
			if cas == 1 {
				fmt.Fprintf(&b, " AND version = $%d", next)
			}
			q.commit[meta][cas] = b.String()
		}
		q.commitVersion[meta] = q.commit[meta][0] + " RETURNING version"
	}
	q.touchVersion = q.touch + " RETURNING version"
	q.revokeReturning = q.revoke + " RETURNING id"
	ret := metaColumns + ", version, data"
	q.updateReturning = "WITH u AS (" + q.commit[0][1] + " RETURNING " + ret + ") " +
		"SELECT true, " + ret + " FROM u UNION ALL " +
		"SELECT false, " + ret + " FROM " + Table + " WHERE id = $1 AND expires_ms > $2 AND NOT EXISTS (SELECT 1 FROM u)"
	return q
}

// Open returns the store on db once it has migrated the schema, and starts
// the janitor. It closes db when it fails, with an error that wraps
// sessionkit.ErrUnavailable (and ErrBusy for a lock wait that timed out).
func Open(ctx context.Context, db Dialect, cfg Options) (*Store, error) {
	cfg.setDefaults()
	if err := migrate(ctx, db); err != nil {
		db.Close()
		if db.Busy(err) {
			return nil, fmt.Errorf("%w: %w: %w", sessionkit.ErrUnavailable, ErrBusy, err)
		}
		return nil, fmt.Errorf("%w: %w", sessionkit.ErrUnavailable, err)
	}
	s := &Store{db: db, q: newStatements(db), cfg: cfg, done: make(chan struct{})}
	if n, ok := db.(interface{ NearCache() *Cache }); ok {
		s.near = n.NearCache()
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.CleanupInterval > 0 {
		go s.janitor(cfg.CleanupInterval)
	} else {
		close(s.done)
	}
	return s, nil
}

// Close stops the janitor, waits for it, and closes the connection pool.
// It may be called more than once; later calls wait for the first.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.cancel()
		<-s.done
		s.db.Close()
	})
	return nil
}

func (s *Store) janitor(every time.Duration) {
	defer close(s.done)
	tick.Every(s.ctx.Done(), every, func(time.Time) {
		if _, err := s.DeleteExpired(s.ctx); err != nil && s.ctx.Err() == nil {
			s.cfg.Logger.Warn(s.db.Name()+": deleting expired sessions", "err", err)
		}
	})
}

// DeleteExpired deletes the expired sessions, Config.CleanupBatch rows per
// statement, and returns how many it deleted. The janitor calls it every
// Config.CleanupInterval.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	var total int64
	for {
		n, err := s.sweep(ctx)
		total += n
		if err != nil {
			return total, s.fail(ctx, "delete expired", err)
		}
		if n < int64(s.cfg.CleanupBatch) {
			break
		}
	}
	// Counters of BumpUntil past their deadline; they are not sessions,
	// so they do not count in the total.
	for {
		n, err := s.db.Exec(ctx, s.q.sweepGenerations, time.Now().UnixMilli(), s.cfg.CleanupBatch)
		if err != nil {
			return total, s.fail(ctx, "delete expired generations", err)
		}
		if n < int64(s.cfg.CleanupBatch) {
			return total, nil
		}
	}
}

// sweep deletes one batch of expired sessions and returns how many it
// deleted; with a function registered by NotifyExpired, it reports them.
func (s *Store) sweep(ctx context.Context) (int64, error) {
	if !s.expired.Listening() {
		return s.db.Exec(ctx, s.q.sweep, time.Now().UnixMilli(), s.cfg.CleanupBatch)
	}
	var batch []sessionkit.Expiry
	n := int64(0)
	err := s.db.WriteRows(ctx, s.q.sweepReturning, []any{time.Now().UnixMilli(), s.cfg.CleanupBatch}, func(scan func(...any) error) error {
		var id []byte
		var x sessionkit.Expiry
		if err := scan(&id, &x.Principal); err != nil {
			return err
		}
		n++
		if len(id) == 32 {
			x.ID = token.ID([32]byte(id))
			batch = append(batch, x)
		}
		return nil
	})
	// The rows are deleted only if the statement succeeded.
	if err != nil {
		return 0, err
	}
	s.expired.Deliver(ctx, batch)
	return n, nil
}

// NotifyExpired implements sessionkit.ExpiryNotifier: the janitor calls
// fn with the sessions each of its DELETE statements removed.
func (s *Store) NotifyExpired(fn func(ctx context.Context, expired []sessionkit.Expiry)) {
	s.expired.Add(fn)
}

// fail wraps an error of the database: ErrUnavailable (and ErrBusy) for
// the Manager's 503, or the context's error when it ended.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return fmt.Errorf("%s: %s: %w", s.db.Name(), op, err)
		}
		return fmt.Errorf("%s: %s: %w: %w", s.db.Name(), op, cerr, err)
	}
	if s.db.Busy(err) {
		return fmt.Errorf("%s: %s: %w: %w: %w", s.db.Name(), op, sessionkit.ErrUnavailable, ErrBusy, err)
	}
	return fmt.Errorf("%s: %s: %w: %w", s.db.Name(), op, sessionkit.ErrUnavailable, err)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// encodeSet returns the JSON object of the values, base64-encoded.
func encodeSet(values iter.Seq2[string, []byte]) (string, error) {
	m := make(map[string]string)
	for k, v := range values {
		if err := checkKey(k); err != nil {
			return "", err
		}
		m[k] = base64.StdEncoding.EncodeToString(v)
	}
	b, err := json.Marshal(m)
	return string(b), err
}

func checkKey(k string) error {
	if !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 {
		return fmt.Errorf("%w: %q", ErrKey, k)
	}
	return nil
}

// decodeValues is the inverse of encodeSet.
func decodeValues(data []byte) (map[string][]byte, error) {
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	values := make(map[string][]byte, len(m))
	for k, v := range m {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		values[k] = b
	}
	return values, nil
}

// row is a session's columns as scanned.
type row struct {
	principal                                    string
	created, idleDeadline, deadline, idleTimeout int64
	persistent                                   bool
	generation                                   int64
}

func (r *row) dest() []any {
	return []any{&r.principal, &r.created, &r.idleDeadline, &r.deadline, &r.idleTimeout, &r.persistent, &r.generation}
}

// expired reports whether the row is past either deadline at now, as the
// statements judge it.
func (r *row) expired(now time.Time) bool {
	return min(r.idleDeadline, r.deadline) <= now.UnixMilli()
}

func (r *row) meta() sessionkit.Meta {
	return sessionkit.Meta{
		Principal: r.principal, Created: time.UnixMilli(r.created),
		IdleDeadline: time.UnixMilli(r.idleDeadline), Deadline: time.UnixMilli(r.deadline),
		IdleTimeout: time.Duration(r.idleTimeout), Persistent: r.persistent, Generation: uint64(r.generation),
	}
}

// metaArgs returns the arguments of a Meta's columns, in metaColumns'
// order but for IdleDeadline, which commits take separately.
func metaArgs(m *sessionkit.Meta) []any {
	return []any{m.Principal, ms(m.Created), ms(m.Deadline), int64(m.IdleTimeout), m.Persistent, int64(m.Generation)}
}

// Load implements sessionkit.Store. A row that cannot be decoded loads as
// not found, and is logged.
func (s *Store) Load(ctx context.Context, t sessionkit.Token) (sessionkit.Record, bool, error) {
	h := t.Hash()
	if s.near != nil {
		return s.loadNear(ctx, h)
	}
	r, values, _, found, err := s.loadRow(ctx, h, time.Now())
	if err != nil || !found {
		return sessionkit.Record{}, false, err
	}
	return sessionkit.Record{Meta: r.meta(), Values: values}, true, nil
}

// Create implements sessionkit.Store. A session already stored under the
// token is replaced.
func (s *Store) Create(ctx context.Context, t sessionkit.Token, rec sessionkit.Record) (sessionkit.Token, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	data, err := encodeSet(maps.All(rec.Values))
	if err != nil {
		return "", err
	}
	h := t.Hash()
	m := &rec.Meta
	_, err = s.db.Exec(ctx, s.q.create, h[:], m.Principal, ms(m.Created), ms(m.IdleDeadline), ms(m.Deadline),
		int64(m.IdleTimeout), m.Persistent, int64(m.Generation), data)
	if s.near != nil {
		s.near.Deleted(h) // replaced
	}
	if err != nil {
		return "", s.fail(ctx, "create", err)
	}
	return t, nil
}

// Commit implements sessionkit.Store: one UPDATE that merges the delta into
// the row, if the row exists and has not expired.
func (s *Store) Commit(ctx context.Context, t sessionkit.Token, d sessionkit.Delta) (sessionkit.Token, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	h := t.Hash()
	if s.near != nil {
		return s.commitNear(ctx, t, h, d)
	}
	n, err := s.write(ctx, h[:], d.Set, d.Deleted, d.IdleDeadline, d.Meta, nil)
	if errors.Is(err, ErrKey) {
		return "", err
	}
	if err != nil {
		return "", s.fail(ctx, "commit", err)
	}
	if n == 0 {
		return "", sessionkit.ErrNotFound
	}
	return t, nil
}

// write runs a commit statement; with version, only if the row is still
// at that version. It returns the number of rows changed, or an error
// wrapping ErrKey for a key the store cannot hold.
func (s *Store) write(ctx context.Context, id []byte, set []sessionkit.Entry, deleted []string, idle time.Time, meta *sessionkit.Meta, version *int64) (int64, error) {
	args, m, c, err := s.commitArgs(id, set, deleted, idle, meta, version)
	if err != nil {
		return 0, err
	}
	return s.db.Exec(ctx, s.q.commit[m][c], args...)
}

// commitArgs returns the arguments of a commit statement and its indexes
// in statements.commit.
func (s *Store) commitArgs(id []byte, set []sessionkit.Entry, deleted []string, idle time.Time, meta *sessionkit.Meta, version *int64) (args []any, m, c int, err error) {
	setArg, err := encodeSet(entries(set))
	if err != nil {
		return nil, 0, 0, err
	}
	for _, k := range deleted {
		if err := checkKey(k); err != nil {
			return nil, 0, 0, err
		}
	}
	delArg, err := s.db.DeletedArg(deleted)
	if err != nil {
		return nil, 0, 0, err
	}
	args = make([]any, 0, 12)
	args = append(args, id, time.Now().UnixMilli(), ms(idle), setArg, delArg)
	if meta != nil {
		m = 1
		args = append(args, metaArgs(meta)...)
	}
	if version != nil {
		c = 1
		args = append(args, *version)
	}
	return args, m, c, nil
}

// Touch implements sessionkit.Store.
func (s *Store) Touch(ctx context.Context, t sessionkit.Token, idleDeadline time.Time) (sessionkit.Token, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	h := t.Hash()
	if s.near != nil {
		return s.touchNear(ctx, t, h, idleDeadline)
	}
	n, err := s.db.Exec(ctx, s.q.touch, h[:], time.Now().UnixMilli(), ms(idleDeadline))
	if err != nil {
		return "", s.fail(ctx, "touch", err)
	}
	if n == 0 {
		return "", sessionkit.ErrNotFound
	}
	return t, nil
}

// Renew implements sessionkit.Store: one UPDATE moves the row to the new
// token's hash.
func (s *Store) Renew(ctx context.Context, old, next sessionkit.Token) (sessionkit.Token, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	oh, nh := old.Hash(), next.Hash()
	n, err := s.db.Exec(ctx, s.q.renew, oh[:], time.Now().UnixMilli(), nh[:])
	if s.near != nil {
		s.near.Deleted(oh)
		s.near.Deleted(nh)
	}
	if err != nil {
		return "", s.fail(ctx, "renew", err)
	}
	if n == 0 {
		return "", sessionkit.ErrNotFound
	}
	return next, nil
}

// updateBackoff spaces the attempts of an Update that lost a race.
var updateBackoff = retry.Backoff{First: time.Millisecond, Max: 50 * time.Millisecond}

// Update implements sessionkit.Store with optimistic concurrency: it reads
// the key's value and the row's version, and writes fn's result only if the
// version has not moved (every commit moves it), retrying after a jittered
// backoff up to Config.UpdateAttempts times.
func (s *Store) Update(ctx context.Context, t sessionkit.Token, key string, idleDeadline time.Time, fn sessionkit.UpdateFunc) (sessionkit.Token, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := checkKey(key); err != nil {
		return "", err
	}
	h := t.Hash()
	if s.near != nil {
		return s.updateNear(ctx, t, h, key, idleDeadline, fn)
	}
	for attempt := 0; ; attempt++ {
		var version int64
		var val *string
		found, err := s.db.QueryRow(ctx, s.q.value, []any{h[:], time.Now().UnixMilli(), key}, &version, &val)
		if err != nil {
			return "", s.fail(ctx, "update", err)
		}
		if !found {
			return "", sessionkit.ErrNotFound
		}
		var old []byte
		if val != nil {
			if old, err = base64.StdEncoding.DecodeString(*val); err != nil {
				return "", fmt.Errorf("%s: update: stored value of %q: %w", s.db.Name(), key, err)
			}
		}
		b, err := fn(old, val != nil)
		if err != nil {
			return "", err
		}
		set, deleted := keyChange(key, b)
		n, err := s.write(ctx, h[:], set, deleted, idleDeadline, nil, &version)
		if err != nil {
			return "", s.fail(ctx, "update", err)
		}
		if n == 1 {
			return t, nil
		}
		// The version moved, or the row is gone: the next read tells.
		if attempt+1 >= s.cfg.UpdateAttempts {
			return "", fmt.Errorf("%s: update of %q: %d attempts lost to concurrent writes: %w", s.db.Name(), key, attempt+1, sessionkit.ErrConflict)
		}
		if err := updateBackoff.Wait(ctx, attempt+1); err != nil {
			return "", fmt.Errorf("%s: update: %w", s.db.Name(), err)
		}
	}
}

// Delete implements sessionkit.Store.
func (s *Store) Delete(ctx context.Context, t sessionkit.Token) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h := t.Hash()
	_, err := s.db.Exec(ctx, s.q.del, h[:])
	if s.near != nil {
		s.near.Deleted(h)
	}
	if err != nil {
		return s.fail(ctx, "delete", err)
	}
	return nil
}

// Sessions implements sessionkit.Principals, through an index on the
// principal.
func (s *Store) Sessions(ctx context.Context, principal string) ([]sessionkit.Info, error) {
	var infos []sessionkit.Info
	err := s.db.Query(ctx, s.q.sessions, []any{principal, time.Now().UnixMilli()}, func(scan func(...any) error) error {
		var id []byte
		var r row
		if err := scan(append([]any{&id}, r.dest()...)...); err != nil {
			return err
		}
		infos = append(infos, sessionkit.Info{ID: hex.EncodeToString(id), Meta: r.meta()}) // token.ID's rule
		return nil
	})
	if err != nil {
		return nil, s.fail(ctx, "sessions", err)
	}
	return infos, nil
}

// RevokeAll implements sessionkit.Principals. It deletes the principal's
// expired sessions too, and counts them.
func (s *Store) RevokeAll(ctx context.Context, principal string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if s.near != nil {
		return s.revokeNear(ctx, principal)
	}
	n, err := s.db.Exec(ctx, s.q.revoke, principal)
	if err != nil {
		return 0, s.fail(ctx, "revoke", err)
	}
	return int(n), nil
}

// Generation implements sessionkit.Generations.
func (s *Store) Generation(ctx context.Context, principal string) (uint64, error) {
	var g int64
	if _, err := s.db.QueryRow(ctx, s.q.generation, []any{principal, time.Now().UnixMilli()}, &g); err != nil {
		return 0, s.fail(ctx, "generation", err)
	}
	return uint64(g), nil
}

// Generations implements sessionkit.MultiGenerations, in one statement. A
// name that is not valid UTF-8 or holds a NUL is read on its own: SQLite's
// list of names is JSON, which cannot carry it exactly, and a name read
// wrong would read as 0, a revocation missed.
func (s *Store) Generations(ctx context.Context, names ...string) ([]uint64, error) {
	if slices.ContainsFunc(names, func(n string) bool { return !utf8.ValidString(n) || strings.IndexByte(n, 0) >= 0 }) {
		gens := make([]uint64, len(names))
		for i, n := range names {
			g, err := s.Generation(ctx, n)
			if err != nil {
				return nil, err
			}
			gens[i] = g
		}
		return gens, nil
	}
	// Two names, the pair a client-side store reads on every request,
	// have a statement of their own: cheaper than a list to unpack
	// (SQLite's JSON), and the same for PostgreSQL.
	now := time.Now().UnixMilli()
	var stmt string
	var args []any
	if len(names) == 2 {
		stmt, args = s.q.generationsTwo, []any{names[0], now, names[1]}
	} else {
		arg, err := s.db.DeletedArg(names)
		if err != nil {
			return nil, s.fail(ctx, "generation", err)
		}
		stmt, args = s.q.generations, []any{arg, now}
	}
	gens := make([]uint64, len(names))
	err := s.db.Query(ctx, stmt, args, func(scan func(...any) error) error {
		var name string
		var g int64
		if err := scan(&name, &g); err != nil {
			return err
		}
		for i, n := range names { // a handful of names
			if n == name {
				gens[i] = uint64(g)
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.fail(ctx, "generation", err)
	}
	return gens, nil
}

// Bump implements sessionkit.Generations, atomically. A counter Bump has
// bumped is kept for good.
func (s *Store) Bump(ctx context.Context, principal string) (uint64, error) {
	return s.bump(ctx, s.q.bump, principal, time.Now().UnixMilli())
}

// BumpUntil implements sessionkit.ExpiringGenerations, atomically: the
// janitor deletes the counter after deadline.
func (s *Store) BumpUntil(ctx context.Context, name string, deadline time.Time) (uint64, error) {
	return s.bump(ctx, s.q.bumpUntil, name, time.Now().UnixMilli(), deadline.UnixMilli())
}

func (s *Store) bump(ctx context.Context, stmt string, args ...any) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var g int64
	if _, err := s.db.WriteRow(ctx, stmt, args, &g); err != nil {
		return 0, s.fail(ctx, "bump", err)
	}
	return uint64(g), nil
}

// DB returns the database s runs on, for tests that look at the rows.
func DB(s *Store) Querier { return s.db }

// keyChange is an Update's new value b of key as a delta's sets and
// deletions: a nil b deletes the key.
func keyChange(key string, b []byte) (set []sessionkit.Entry, deleted []string) {
	if b == nil {
		return nil, []string{key}
	}
	return []sessionkit.Entry{{Key: key, Value: b}}, nil
}

// entries yields the keys and values of set.
func entries(set []sessionkit.Entry) iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		for _, e := range set {
			if !yield(e.Key, e.Value) {
				return
			}
		}
	}
}
