package ui_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// chromiumPath returns the browser to drive. Without one the test is
// skipped on a developer's machine and fails in CI (CI set), where
// scripts/install-chromium.sh must have installed it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("AGORA_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv("CI") == "" {
		t.Skip("chromium is not installed at /usr/bin/chromium: run scripts/install-chromium.sh (or set AGORA_CHROMIUM) to run the browser test")
	}
	t.Fatal("CI is set but chromium is not installed at /usr/bin/chromium: .ci/run must call scripts/install-chromium.sh")
	return ""
}

// browser drives one headless chromium tab and collects what the page
// reports as errors.
type browser struct {
	t   *testing.T
	ctx context.Context
	dir string // screenshots

	mu   sync.Mutex
	errs []string
}

func startBrowser(t *testing.T, exe string) *browser {
	t.Helper()
	// Chromium's helpers may still write into the profile for a moment
	// after it exits, so the profile is not a t.TempDir (whose cleanup
	// would fail on "directory not empty"); it is removed with retries.
	profile, err := os.MkdirTemp("", "agora-ui-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sdktest.WaitFor(5*time.Second, func() bool { return os.RemoveAll(profile) == nil })
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1440, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, dir: t.TempDir()}
	// The first Run starts the browser; it must not carry a timeout.
	if _, err := chromedp.Run(ctx, chromedp.EmulateViewport(1440, 1000)); err != nil {
		t.Fatalf("start chromium %s: %v", exe, err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			// Failed requests show up as "network" log entries; the test
			// checks what the page shows for them instead.
			if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network") {
				b.mu.Lock()
				b.errs = append(b.errs, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// run runs an action with a deadline.
func run[T any](b *browser, d time.Duration, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// eval evaluates a JavaScript expression or fails the test.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := run(b, 5*time.Second, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS polls a JavaScript condition until it is true; on timeout it
// fails the test with what the page shows. Evaluation errors (the page
// navigating, as it does when it moves to the leader) count as false.
func (b *browser) waitJS(what, cond string, timeout time.Duration) {
	b.t.Helper()
	var last error
	err := sdktest.WaitFor(timeout, func() bool {
		ok, err := run(b, 2*time.Second, chromedp.Evaluate[bool](fmt.Sprintf("Boolean(%s)", cond)))
		last = err
		if err != nil || !ok {
			time.Sleep(50 * time.Millisecond) // pace the polling of the browser
			return false
		}
		return true
	})
	if err != nil {
		b.screenshot("failure.png")
		loc, _ := run(b, 2*time.Second, chromedp.Location())
		text, _ := run(b, 2*time.Second, chromedp.Evaluate[string](`document.body.innerText`))
		b.t.Fatalf("waited %s for %s (last error: %v)\nlocation: %s\npage text:\n%s\npage errors: %v", timeout, what, last, loc, text, b.pageErrors())
	}
}

// goTo switches the UI to a route without reloading the page.
func (b *browser) goTo(hash string) {
	b.t.Helper()
	eval[string](b, fmt.Sprintf(`location.hash = %q`, hash))
}

// screenshot saves a full-page PNG in the test's temp dir (and in
// $AGORA_UI_SCREENSHOTS when set) and returns its path.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	png, err := run(b, 10*time.Second, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	p := filepath.Join(b.dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", p)
	// AGORA_UI_SCREENSHOTS keeps copies past the test, to look at.
	if keep := os.Getenv("AGORA_UI_SCREENSHOTS"); keep != "" {
		if err := os.MkdirAll(keep, 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(keep, name), png, 0o644)
		}
	}
	return p
}

// checkText fails the test if the page shows JavaScript's renderings of
// missing or mistyped values.
func (b *browser) checkText(page string) {
	b.t.Helper()
	text := eval[string](b, `document.getElementById('main').innerText`)
	for _, bad := range []string{"[object ", "undefined", "NaN", "Invalid Date"} {
		if strings.Contains(text, bad) {
			b.t.Errorf("%s page shows %q:\n%s", page, bad, text)
		}
	}
}

func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// TestBrowser starts a cluster of 3 masters and 2 agents that run real
// processes, runs a task that echoes a known string, and drives the UI in
// headless chromium: opened on a standby it must move to the leader and
// show the leader and both agents; the task's stdout link must show the
// string; the batch-jobs and service-apps pages must show what the
// frameworks' APIs serve, say so when a framework is absent, and pick up
// a framework that registers while the page is open; when the leader
// serving the page stops, the page must move to the new leader. Every
// page is saved as a PNG in the test's temp dir; the overview is also
// copied to $TMPDIR/agora-ui.png.
func TestBrowser(t *testing.T) {
	exe := chromiumPath(t)
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(2, "cpus:4;mem:4096;disk:8192"))
	leader, err := c.WaitLeader(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var standby *master.Master
	for _, m := range c.Masters() {
		if m != nil && m != leader {
			standby = m
			break
		}
	}

	// A framework runs one task that prints a known string and stays up.
	mark := fmt.Sprintf("agora-ui-mark-%d", time.Now().UnixNano())
	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "ui-echo"}, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)
	offer := rec.TakeOffer(t, 5*time.Second, nil)
	task := wire.TaskInfo{TaskID: "echo-1", Name: "echo", Resources: wire.Resources{CPUs: 1, MemMB: 256},
		Command: wire.CommandInfo{Value: "echo " + mark + "; echo to-stderr >&2; exec sleep 120", Shell: true}}
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), offer, task); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 10*time.Second, task.TaskID, wire.TaskRunning)

	batch := startFakeBatch(t)
	registerWebUI(t, c, "agora-batch", batch.URL)

	b := startBrowser(t, exe)

	// Overview, opened on a standby: the page moves to the leader's UI.
	if _, err := run(b, 10*time.Second, chromedp.Navigate("http://"+standby.HTTPAddr()+"/")); err != nil {
		t.Fatal(err)
	}
	b.waitJS("the overview to show the leader and both agents",
		`document.getElementById('served-by')?.textContent.includes('(Leader)') && /^m[123]$/.test(document.querySelector('#card-leader .value')?.textContent) && document.querySelectorAll('#overview tr[data-agent]').length === 2`,
		15*time.Second)
	// The page must be served by the master it shows as leader (raft may
	// elect another leader while the test runs; the UI follows it).
	shown := eval[string](b, `document.querySelector('#card-leader .value').textContent`)
	host := eval[string](b, `location.host`)
	var servedBy *master.Master
	for _, m := range c.Masters() {
		if m != nil && m.HTTPAddr() == host {
			servedBy = m
		}
	}
	if servedBy == nil || servedBy.Name() != shown {
		t.Errorf("opened on standby %s: the page is at %s and shows leader %s; want it at that leader's address", standby.Name(), host, shown)
	}
	if shown != leader.Name() {
		t.Logf("leadership moved from %s to %s during the test", leader.Name(), shown)
	}
	text := eval[string](b, `document.getElementById('overview').innerText`)
	for _, want := range []string{"agent1", "agent2", "m1", "m2", "m3", "Leader", "Follower", "ui-echo", "CPUs", "Memory"} {
		if !strings.Contains(text, want) {
			t.Errorf("overview does not show %q; it shows:\n%s", want, text)
		}
	}
	if badge := eval[string](b, `document.getElementById('leader-badge').innerText`); !strings.Contains(badge, shown) {
		t.Errorf("leader badge %q does not name %s", badge, shown)
	}
	b.checkText("overview")
	overviewPNG := b.screenshot("overview.png")

	// Tasks: the task is listed as running with links to its sandbox.
	b.goTo("#/tasks")
	b.waitJS("the tasks table to list echo-1 as running with a stdout link",
		`document.querySelector('#tasks tr[data-task="echo-1"][data-state="TASK_RUNNING"] a[data-file="stdout"]') !== null`, 10*time.Second)
	row := eval[string](b, `document.querySelector('#tasks tr[data-task="echo-1"]').innerText`)
	for _, want := range []string{"RUNNING", "ui-echo", "stdout", "stderr"} {
		if !strings.Contains(row, want) {
			t.Errorf("task row %q lacks %q", row, want)
		}
	}
	if !strings.Contains(row, "agent1") && !strings.Contains(row, "agent2") {
		t.Errorf("task row %q names neither agent1 nor agent2", row)
	}
	b.checkText("tasks")
	b.screenshot("tasks.png")

	// The stdout link opens the sandbox viewer, which reads the file
	// through the master.
	if _, err := run(b, 5*time.Second, chromedp.Click(chromedp.CSS(`#tasks tr[data-task="echo-1"] a[data-file="stdout"]`))); err != nil {
		t.Fatalf("click the stdout link: %v", err)
	}
	b.waitJS("the sandbox viewer to show the task's stdout (the UI reads GET /api/v1/agents/{agent}/sandbox/{framework}/{task}/stdout)",
		fmt.Sprintf(`(document.getElementById('log')?.textContent || '').includes(%q)`, mark), 15*time.Second)
	if got := eval[string](b, `document.getElementById('log').textContent`); strings.Contains(got, "to-stderr") {
		t.Errorf("stdout viewer shows stderr's line: %q", got)
	}
	if info := eval[string](b, `document.getElementById('sandbox').innerText`); !strings.Contains(info, "ui-echo") && !strings.Contains(info, "echo-1") {
		t.Errorf("sandbox page does not name the task: %s", info)
	}
	b.checkText("sandbox")
	b.screenshot("sandbox-stdout.png")

	// Agents and frameworks pages.
	b.goTo("#/agents")
	b.waitJS("the agents page to list both agents", `document.querySelectorAll('#agents tr[data-agent] .pill[data-state="ACTIVE"]').length === 2`, 10*time.Second)
	b.checkText("agents")
	b.screenshot("agents.png")
	b.goTo("#/frameworks")
	b.waitJS("the frameworks page to link the batch framework's web UI",
		fmt.Sprintf(`document.querySelector('#frameworks a.webui')?.href === %q`, batch.URL+"/"), 10*time.Second)
	fwText := eval[string](b, `document.getElementById('frameworks').innerText`)
	for _, want := range []string{"ui-echo", "agora-batch", "active"} {
		if !strings.Contains(fwText, want) {
			t.Errorf("frameworks page does not show %q; it shows:\n%s", want, fwText)
		}
	}
	b.checkText("frameworks")
	b.screenshot("frameworks.png")

	// Batch jobs from the batch framework's API.
	b.goTo("#/jobs")
	b.waitJS("the jobs page to list the batch framework's jobs",
		`document.querySelector('#jobs tr[data-job="nightly-report"]') !== null && document.querySelector('#jobs tr[data-job="ingest"]') !== null`, 10*time.Second)
	jobs := eval[string](b, `document.getElementById('jobs').innerText`)
	for _, want := range []string{"0 3 * * *", "SUCCEEDED", "2/4 done"} {
		if !strings.Contains(jobs, want) {
			t.Errorf("jobs page does not show %q; it shows:\n%s", want, jobs)
		}
	}
	if _, err := run(b, 5*time.Second, chromedp.Click(chromedp.CSS(`#jobs tr[data-job="nightly-report"]`))); err != nil {
		t.Fatal(err)
	}
	b.waitJS("the job's run history", `document.querySelector('#jobs tr[data-run="8"]') !== null`, 10*time.Second)
	b.checkText("jobs")
	b.screenshot("jobs.png")

	// Service apps: no service framework yet, then one registers while the
	// page is open.
	b.goTo("#/apps")
	b.waitJS("the apps page to say that no service framework is registered", `document.getElementById('no-service') !== null`, 10*time.Second)
	svc := startFakeService(t, c.Agents()[0].ID())
	registerWebUI(t, c, "service", svc.URL)
	b.waitJS("the apps page to pick up the service framework", `document.querySelector('#apps tr[data-app="web"]') !== null`, 15*time.Second)
	if _, err := run(b, 5*time.Second, chromedp.Click(chromedp.CSS(`#apps tr[data-app="web"]`))); err != nil {
		t.Fatal(err)
	}
	b.waitJS("the app's instances", `(document.getElementById('apps').innerText).includes('web-1')`, 5*time.Second)
	apps := eval[string](b, `document.getElementById('apps').innerText`)
	for _, want := range []string{"2 healthy", "3 wanted", "waiting for health checks", "api"} {
		if !strings.Contains(apps, want) {
			t.Errorf("apps page does not show %q; it shows:\n%s", want, apps)
		}
	}
	b.checkText("apps")
	b.screenshot("apps.png")

	// Failover: the leader serving the page dies; the page moves to a
	// surviving master, and from there to the new leader.
	b.goTo("#/")
	b.waitJS("the overview", `document.querySelectorAll('#overview tr[data-agent]').length === 2`, 10*time.Second)
	old := eval[string](b, `document.querySelector('#card-leader .value').textContent`)
	for i, m := range c.Masters() {
		if m != nil && m.Name() == old {
			c.StopMaster(i)
		}
	}
	b.waitJS("the page to follow the new leader after "+old+" stopped", fmt.Sprintf(
		`document.getElementById('served-by')?.textContent.includes('(Leader)') && /^m[123]$/.test(document.querySelector('#card-leader .value')?.textContent) && document.querySelector('#card-leader .value').textContent !== %q && document.querySelectorAll('#overview tr[data-agent]').length === 2`,
		old), 20*time.Second)
	now := eval[string](b, `document.querySelector('#card-leader .value').textContent`)
	host = eval[string](b, `location.host`)
	if l := c.Leader(); l == nil || l.Name() != now || l.HTTPAddr() != host {
		t.Errorf("after %s stopped the page is at %s and shows leader %s; the cluster's leader is %v", old, host, now, l)
	}
	b.checkText("overview after failover")
	b.screenshot("failover.png")

	if errs := b.pageErrors(); len(errs) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
	if overviewPNG != "" {
		if data, err := os.ReadFile(overviewPNG); err == nil {
			if err := os.WriteFile(filepath.Join(os.TempDir(), "agora-ui.png"), data, 0o644); err == nil {
				t.Logf("overview screenshot copied to %s", filepath.Join(os.TempDir(), "agora-ui.png"))
			}
		}
	}
}
