package e2e

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionkit/sessionkit/internal/proctest"
)

// chromium returns the browser binary (make test installs Debian's).
func chromium(t *testing.T) string {
	return proctest.Need(t, "Debian: apt-get install chromium", "chromium", "chromium-browser")
}

// browser starts a headless Chromium with a fresh profile, on loopback only.
func browser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // as root
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(900, 900),
	)
	opts = append(opts, extra...)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	// The first run starts the browser; it must not carry a deadline.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

type css = chromedp.CSS

// TestBrowserKillServingNode: a user logs in and fills a cart in a real
// browser, the node that served them is killed, the page is reloaded:
// still logged in with the same cart, except with plain sticky sessions.
func TestBrowserKillServingNode(t *testing.T) {
	for _, strategy := range []string{"cluster", "sticky", "cookie", "redis", "sql"} {
		t.Run(strategy, func(t *testing.T) {
			shop, admin := startDemo(t, strategy)
			ctx := browser(t)
			items := []string{"book", "pen"}
			if strategy == "cookie" {
				// A cart large enough to need a second cookie: 30 items
				// of 130 incompressible characters, about 5 KB sealed.
				items = nil
				for i := range 30 {
					h := sha256.Sum256([]byte(fmt.Sprint(i)))
					items = append(items, fmt.Sprintf("%02d %x%x", i, h, h[:31]))
				}
			}
			tasks := []chromedp.Action[chromedp.Void]{
				chromedp.Navigate(shop),
				chromedp.SendKeys(css(`input[name=user]`), "ada"),
				chromedp.Submit(css(`input[name=user]`)),
				chromedp.WaitVisible(css(`#user`)),
			}
			for i, item := range items {
				// Wait for each page to show the item before the next.
				tasks = append(tasks, chromedp.SendKeys(css(`input[name=item]`), item), chromedp.Submit(css(`input[name=item]`)),
					chromedp.WaitVisible(css(fmt.Sprintf(`#cart li:nth-child(%d)`, i+1))))
			}
			if err := chromedp.Do(ctx, tasks...); err != nil {
				t.Fatal(err)
			}
			node, err := chromedp.Run(ctx, chromedp.Text(css(`#node`)))
			if err != nil {
				t.Fatal(err)
			}
			if path := os.Getenv("SESSIONKIT_SCREENSHOT"); path != "" && strategy == "cluster" {
				if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
					os.WriteFile(path, png, 0o644)
				}
			}
			admin("/nodes/" + node + "/kill")
			if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(css(`#node`))); err != nil {
				t.Fatal(err)
			}
			after, err1 := chromedp.Run(ctx, chromedp.Text(css(`#node`)))
			count, err2 := chromedp.Run(ctx, chromedp.Text(css(`#count`)))
			user, err3 := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("#user")||{}).textContent||""`))
			if err := errors.Join(err1, err2, err3); err != nil {
				t.Fatal(err)
			}
			if after == node {
				t.Fatalf("the killed node %s served the reload", node)
			}
			kept := user == "ada" && count == fmt.Sprint(len(items))
			if kept == (strategy == "sticky") {
				t.Fatalf("%s: after killing %s: user %q, %s items (of %d)", strategy, node, user, count, len(items))
			}
		})
	}
}
