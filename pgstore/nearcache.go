package pgstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sessionkit/sessionkit/internal/retry"
	"github.com/sessionkit/sessionkit/internal/sqlcore"
)

// NearCache configures the near cache (Config.NearCache): sessions kept in
// the process and invalidated by PostgreSQL's LISTEN/NOTIFY. The zero value
// is the default; each field's comment states its default.
type NearCache struct {
	// MaxBytes bounds the size of the cached sessions (keys, values and
	// about 100 bytes per session); the oldest are evicted first.
	// Default 64 MiB.
	MaxBytes int64

	// TTL is how long a session is served from the cache before it is
	// read from the database again. Default 1 minute.
	TTL time.Duration

	// Heartbeat is how often the listener sends itself a notification
	// through the server, to learn that it still hears every commit.
	// Default 100 ms, or MaxLag/3 when that is shorter. It must be
	// shorter than MaxLag.
	Heartbeat time.Duration

	// MaxLag bounds the staleness of what the cache serves: it serves a
	// session only while the newest heartbeat that came back was sent
	// less than MaxLag ago, and is emptied when it is older or the
	// listener's connection fails. A read then reflects every commit
	// acknowledged more than MaxLag before it. Default 3 x Heartbeat.
	MaxLag time.Duration
}

// channel is the channel of the invalidations and the heartbeats. A
// database's channels are shared by its schemas: a listener hears the
// sessions of every schema, and drops what it does not hold.
const channel = "sessionkit_sessions"

// notifyFunction is the trigger function that notifies each write of a
// session's data or metadata, in the writing transaction: the hex of the
// row's id, a space and its new version; the id alone for a row deleted or
// moved to another id. A touch (only idle_deadline_ms changes) notifies
// nothing.
const notifyFunction = `CREATE OR REPLACE FUNCTION sessionkit_notify_v1() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		PERFORM pg_notify('` + channel + `', encode(OLD.id, 'hex'));
		RETURN NULL;
	END IF;
	IF TG_OP = 'UPDATE' THEN
		IF OLD.id <> NEW.id THEN
			PERFORM pg_notify('` + channel + `', encode(OLD.id, 'hex'));
		END IF;
	END IF;
	PERFORM pg_notify('` + channel + `', encode(NEW.id, 'hex') || ' ' || NEW.version);
	RETURN NULL;
END $$`

// triggers are created once per schema, by the first store with a near
// cache; they stay, so that every process writing the table notifies,
// whether or not it keeps a near cache.
var triggers = []struct{ name, sql string }{
	{"sessionkit_notify_write", "CREATE TRIGGER sessionkit_notify_write AFTER INSERT OR DELETE ON " + sqlcore.Table +
		" FOR EACH ROW EXECUTE FUNCTION sessionkit_notify_v1()"},
	{"sessionkit_notify_update", "CREATE TRIGGER sessionkit_notify_update AFTER UPDATE ON " + sqlcore.Table +
		" FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version OR OLD.id IS DISTINCT FROM NEW.id)" +
		" EXECUTE FUNCTION sessionkit_notify_v1()"},
}

// installTriggers creates the notifying triggers that are missing, in the
// migration's transaction.
func installTriggers(ctx context.Context, tx pgx.Tx) error {
	var have int
	names := []string{triggers[0].name, triggers[1].name}
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname = ANY($2)", sqlcore.Table, names).Scan(&have); err != nil {
		return err
	}
	if have == len(triggers) {
		return nil
	}
	if _, err := tx.Exec(ctx, notifyFunction); err != nil {
		return fmt.Errorf("create the notifying function: %w", err)
	}
	for _, tr := range triggers {
		if _, err := tx.Exec(ctx, "DROP TRIGGER IF EXISTS "+tr.name+" ON "+sqlcore.Table); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, tr.sql); err != nil {
			return fmt.Errorf("create trigger %s: %w", tr.name, err)
		}
	}
	return nil
}

// A notification is one of:
//
//	<64 hex digits> <version>   a write moved the session to version
//	<64 hex digits>             the session was deleted or moved
//	h <pid> <seq>               heartbeat seq of the listener on backend pid
type notification struct {
	heartbeat bool
	id        [32]byte
	version   int64 // 0: deleted
	pid       uint32
	seq       uint64
}

// String returns the notification's payload.
func (n notification) String() string {
	switch {
	case n.heartbeat:
		return "h " + strconv.FormatUint(uint64(n.pid), 10) + " " + strconv.FormatUint(n.seq, 10)
	case n.version == 0:
		return hex.EncodeToString(n.id[:])
	}
	return hex.EncodeToString(n.id[:]) + " " + strconv.FormatInt(n.version, 10)
}

// parseNotification parses a notification's payload; ok is false for
// anything else.
func parseNotification(p string) (n notification, ok bool) {
	if rest, isHB := strings.CutPrefix(p, "h "); isHB {
		pid, seq, found := strings.Cut(rest, " ")
		if !found {
			return n, false
		}
		pv, err1 := strconv.ParseUint(pid, 10, 32)
		sv, err2 := strconv.ParseUint(seq, 10, 64)
		if err1 != nil || err2 != nil {
			return n, false
		}
		return notification{heartbeat: true, pid: uint32(pv), seq: sv}, true
	}
	id, version, hasVersion := strings.Cut(p, " ")
	if len(id) != 64 {
		return n, false
	}
	if _, err := hex.Decode(n.id[:], []byte(id)); err != nil {
		return n, false
	}
	if hasVersion {
		v, err := strconv.ParseInt(version, 10, 64)
		if err != nil || v <= 0 {
			return n, false
		}
		n.version = v
	}
	return n, true
}

// listener is the one connection per store that LISTENs: it reports
// invalidations and heartbeats to the cache, and reconnects when its
// connection fails.
type listener struct {
	cfg    *pgx.ConnConfig
	cache  *sqlcore.Cache
	every  time.Duration
	logf   func(msg string, args ...any)
	cancel context.CancelFunc
	done   chan struct{}
}

// reconnect spaces the listener's attempts to reconnect.
var reconnect = retry.Backoff{First: 10 * time.Millisecond, Max: time.Second}

// run listens until ctx ends.
func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	for failures := 0; ; {
		heard, err := l.session(ctx)
		l.cache.Down()
		if ctx.Err() != nil {
			return
		}
		if heard {
			failures = 0
		}
		failures++
		l.logf("pgstore: near cache listener: connection lost; cache emptied until it is back", "err", err)
		if reconnect.Wait(ctx, failures) != nil {
			return
		}
	}
}

// session runs one connection: LISTEN, then heartbeats and notifications
// until the connection fails or ctx ends. heard reports whether a
// heartbeat came back.
func (l *listener) session(ctx context.Context) (heard bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	// The heartbeats need no durability.
	if _, err := conn.Exec(ctx, "SET synchronous_commit = off"); err != nil {
		return false, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return false, err
	}
	pid := conn.PgConn().PID()
	var sent [64]time.Time // by seq % 64
	var seq uint64
	next := time.Now()
	for {
		if now := time.Now(); !now.Before(next) {
			seq++
			sent[seq%64] = now
			if _, err := conn.Exec(ctx, "SELECT pg_notify($1, $2)", channel, notification{heartbeat: true, pid: pid, seq: seq}.String()); err != nil {
				return heard, err
			}
			next = now.Add(l.every)
		}
		wctx, cancel := context.WithDeadline(ctx, next)
		msg, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed() {
				continue // time for the next heartbeat
			}
			return heard, err
		}
		n, ok := parseNotification(msg.Payload)
		switch {
		case !ok:
		case n.heartbeat:
			// Another listener's heartbeat, or one of ours too old
			// to be remembered, tells nothing.
			if n.pid == pid && n.seq <= seq && seq-n.seq < uint64(len(sent)) {
				l.cache.Heard(sent[n.seq%64])
				heard = true
			}
		case n.version == 0:
			l.cache.Deleted(n.id)
		default:
			l.cache.Invalidate(n.id, n.version)
		}
	}
}

func (l *listener) stop() {
	l.cancel()
	<-l.done
}
