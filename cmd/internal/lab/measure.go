package lab

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the sql strategy's SQLite file
)

// procWritten returns the bytes a process has written through system
// calls (wchar in /proc/PID/io): to sockets, pipes and files.
func procWritten(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar:"); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.New("no wchar in /proc/PID/io")
}

// procRSS returns a process's resident set size (VmRSS).
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/PID/status")
}

// clusterStats reads a cluster node's admin API: sessions owned and the
// session bytes held.
type clusterStats struct {
	Owned   int `json:"owned"`
	Backups int `json:"backups"`
	Bytes   int `json:"bytes"`
}

func getClusterStats(ctx context.Context, url, token string) (clusterStats, error) {
	var st clusterStats
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url+"/cluster", nil)
	if err != nil {
		return st, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s/cluster: %s", url, resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// redisConn is one connection to Redis, for the lab's few reads.
type redisConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRedis(ctx context.Context, addr string) (*redisConn, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &redisConn{c: c, r: bufio.NewReader(c)}, nil
}

// do sends one command and returns its reply: a string for simple and
// bulk strings and integers, a []any for arrays, nil for a null.
func (rc *redisConn) do(args ...string) (any, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(rc.c, b.String()); err != nil {
		return nil, err
	}
	return rc.reply()
}

func (rc *redisConn) reply() (any, error) {
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("redis: empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return nil, errors.New("redis: " + line[1:])
	case '$', '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return nil, fmt.Errorf("redis: bad reply %q", line)
		}
		if n < 0 {
			return nil, nil
		}
		if line[0] == '*' {
			a := make([]any, n)
			for i := range a {
				if a[i], err = rc.reply(); err != nil {
					return nil, err
				}
			}
			return a, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rc.r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	}
	return nil, fmt.Errorf("redis: unexpected reply %q", line)
}

// redisPing checks that Redis answers.
func redisPing(ctx context.Context, addr string) error {
	rc, err := dialRedis(ctx, addr)
	if err != nil {
		return err
	}
	defer rc.c.Close()
	_, err = rc.do("PING")
	return err
}

// redisBytes returns the memory Redis uses for its keys: the sum of
// MEMORY USAGE over every key.
func redisBytes(ctx context.Context, addr string) (int64, error) {
	rc, err := dialRedis(ctx, addr)
	if err != nil {
		return 0, err
	}
	defer rc.c.Close()
	var total int64
	cursor := "0"
	for {
		r, err := rc.do("SCAN", cursor, "COUNT", "1000")
		if err != nil {
			return 0, err
		}
		a, ok := r.([]any)
		if !ok || len(a) != 2 {
			return 0, fmt.Errorf("redis: SCAN answered %v", r)
		}
		cursor, _ = a[0].(string)
		keys, _ := a[1].([]any)
		for _, k := range keys {
			ks, _ := k.(string)
			u, err := rc.do("MEMORY", "USAGE", ks)
			if err != nil {
				return 0, err
			}
			if us, ok := u.(string); ok {
				n, _ := strconv.ParseInt(us, 10, 64)
				total += n
			}
		}
		if cursor == "0" {
			return total, nil
		}
	}
}

// sqliteBytes returns the bytes of the rows of a SQLite session table:
// its columns' lengths, eight bytes for each integer column.
func sqliteBytes(ctx context.Context, path string) (int64, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var n int64
	err = db.QueryRowContext(ctx, `SELECT coalesce(sum(length(id) + length(principal) + length(data) + 8*8), 0) FROM sessionkit_sessions`).Scan(&n)
	return n, err
}

// quantiles returns the p50 and p99 of latencies, in milliseconds.
func quantiles(lat []time.Duration) Quantiles {
	if len(lat) == 0 {
		return Quantiles{}
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.5) - 1
		i = max(0, min(len(s)-1, i))
		return float64(s[i].Microseconds()) / 1000
	}
	return Quantiles{N: len(s), P50: at(0.50), P99: at(0.99)}
}
