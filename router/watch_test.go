package router

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestWatchMembersFile: the router takes the file's members when the file
// changes and when told to reload, keeps its members when the file is
// broken, and the watch ends with its context.
func TestWatchMembersFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "members")
	// write replaces the file at once, as a deployment tool does (a new
	// file renamed over the old): written in place, the watch could catch
	// it truncated, and an empty file is a valid list of no members.
	write := func(content string, mtime time.Time) {
		t.Helper()
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		// An explicit modification time: two writes within the file
		// system's time resolution would look alike.
		if err := os.Chtimes(tmp, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now().Add(-time.Hour)
	write("a=http://127.0.0.1:1\n", start)
	list, err := ReadMembersFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := New(Config{Logger: slog.New(slog.DiscardHandler)}, list)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()

	ctx, cancel := context.WithCancel(context.Background())
	reload := make(chan os.Signal) // unbuffered: a send returns once the watch takes it
	done := make(chan struct{})
	go func() {
		defer close(done)
		rt.WatchMembersFile(ctx, path, 10*time.Millisecond, reload)
	}()
	names := func() []string {
		var out []string
		for _, m := range rt.Members() {
			out = append(out, m.Name)
		}
		slices.Sort(out)
		return out
	}
	await := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: members %v", what, names())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	members := func(want ...string) func() bool {
		return func() bool { return slices.Equal(names(), want) }
	}

	// A change of the file is taken.
	write("a=http://127.0.0.1:1\nb=http://127.0.0.1:2\n", start.Add(time.Second))
	await("a changed file", members("a", "b"))

	hup := func() {
		t.Helper()
		select {
		case reload <- syscall.SIGHUP:
		case <-time.After(10 * time.Second):
			t.Fatal("the watch does not take reload signals")
		}
	}

	// A broken file is refused; the members stay. The second signal is
	// taken only once the first reload is done.
	write("not a member\n", start.Add(time.Second))
	hup()
	hup()
	if got := names(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after a broken file the members are %v", got)
	}

	// A reload reads the file even when its time did not change.
	write("c=http://127.0.0.1:3\n", start.Add(time.Second))
	hup()
	await("a reload", members("c"))

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not end with its context")
	}
}
