package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// moduleRoot finds the repository: the nearest folder upwards holding the
// go.mod of github.com/igf/nomina.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/igf/nomina\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run nomina-sim inside the Nomina repository (no go.mod of github.com/igf/nomina above the current folder)")
		}
		dir = parent
	}
}

// buildService builds the service binary once into dir.
func buildService(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "nomina")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/nomina")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build the service: %v\n%s", err, out)
	}
	return bin, nil
}

// freePort returns a TCP port on loopback nobody listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// instance is one running service process.
type instance struct {
	index   int
	addr    string // host:port of its HTTP listener
	metrics string // host:port of its metrics listener
	dir     string // its data directory
	env     []string
	logPath string
	skew    time.Duration

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	up      bool
	starts  int
	logFile *os.File
	cpu     time.Duration // of the processes that have exited
	// served is what its processes killed so far recorded answering the
	// API, by status (their metrics die with them).
	served map[string]float64
}

// cluster is the running instances on one store.
type cluster struct {
	bin       string
	root      string
	instances []*instance
	storeURI  string // TLS URI of the embedded store, from the first instance's URI file
	kekFile   string
}

// clusterConfig is what every instance is given.
type clusterConfig struct {
	Bin, Root, Dir string
	SMTPAddr       string
	AdminEmail     string
	AdminPassword  string
	Limits         map[string]string // NOMINA_LIMIT_* the scenario needs
	Extra          map[string]string // other settings the scenario needs
	Skews          []time.Duration   // per instance; nil for none
}

// startCluster starts n instances: the first with the embedded store open
// to the others over TLS, then the others at once with its URI and its
// key-encryption key.
func startCluster(ctx context.Context, cc clusterConfig, n int) (*cluster, error) {
	c := &cluster{bin: cc.Bin, root: cc.Root}
	storePort, err := freePort()
	if err != nil {
		return c, err
	}
	for i := 0; i < n; i++ {
		port, err := freePort()
		if err != nil {
			return c, err
		}
		mport, err := freePort()
		if err != nil {
			return c, err
		}
		in := &instance{index: i, addr: "127.0.0.1:" + strconv.Itoa(port), metrics: "127.0.0.1:" + strconv.Itoa(mport),
			dir: filepath.Join(cc.Dir, fmt.Sprintf("instance-%d", i+1))}
		in.logPath = filepath.Join(cc.Dir, fmt.Sprintf("instance-%d.log", i+1))
		if i < len(cc.Skews) {
			in.skew = cc.Skews[i]
		}
		vals := map[string]string{
			"NOMINA_CONFIG":          filepath.Join(cc.Root, "config", "nomina.yaml"),
			"NOMINA_WORKFLOWS_DIR":   filepath.Join(cc.Root, "workflows"),
			"NOMINA_HTTP_ADDR":       in.addr,
			"NOMINA_DATA_DIR":        in.dir,
			"NOMINA_BASE_URL":        "http://nomina.sim.test",
			"NOMINA_SMTP_URL":        "smtp://" + cc.SMTPAddr,
			"NOMINA_ADMIN_EMAIL":     cc.AdminEmail,
			"NOMINA_ADMIN_PASSWORD":  cc.AdminPassword,
			"NOMINA_TRUSTED_PROXIES": "127.0.0.1",
			"NOMINA_METRICS_ADDR":    in.metrics,
		}
		if in.skew != 0 {
			vals["NOMINA_TEST_CLOCK_OFFSET"] = in.skew.String()
		}
		for k, v := range cc.Limits {
			vals[k] = v
		}
		for k, v := range cc.Extra {
			vals[k] = v
		}
		if i == 0 {
			vals["NOMINA_EMBEDDED_LISTEN"] = "127.0.0.1:" + strconv.Itoa(storePort)
		}
		in.env = envList(vals)
		c.instances = append(c.instances, in)
	}
	first := c.instances[0]
	if err := first.startOnFreePorts(ctx, c.bin, 3*time.Minute); err != nil {
		return c, err
	}
	uri, err := os.ReadFile(filepath.Join(first.dir, "embedded-store.uri"))
	if err != nil {
		return c, fmt.Errorf("the first instance wrote no store URI: %w", err)
	}
	c.storeURI = strings.TrimSpace(string(uri))
	c.kekFile = filepath.Join(first.dir, "secrets.key")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for _, in := range c.instances[1:] {
		in.env = append(in.env, "NOMINA_MONGODB_URI="+c.storeURI, "NOMINA_SECRETS_KEY_FILE="+c.kekFile)
		wg.Go(func() { errs[in.index] = in.startOnFreePorts(ctx, c.bin, 2*time.Minute) })
	}
	wg.Wait()
	return c, errors.Join(errs...)
}

// targetCluster is instances someone else runs, at addrs: the simulator
// only sends them requests (no kill, no CPU or store-command figures).
func targetCluster(ctx context.Context, addrs []string, storeURI string) (*cluster, error) {
	c := &cluster{storeURI: storeURI}
	for i, a := range addrs {
		in := &instance{index: i, addr: a, exited: make(chan struct{})}
		if err := in.waitReady(ctx, 30*time.Second); err != nil {
			return c, err
		}
		c.instances = append(c.instances, in)
	}
	return c, nil
}

// startOnFreePorts starts the instance and waits until it is ready; when
// a port picked for it was taken by another process in the meantime
// (freePort only found it free), it tries again on new ones.
func (in *instance) startOnFreePorts(ctx context.Context, bin string, within time.Duration) error {
	for attempt := 0; ; attempt++ {
		if err := in.start(bin); err != nil {
			return err
		}
		err := in.waitReady(ctx, within)
		if err == nil || attempt >= 3 || !strings.Contains(err.Error(), "address already in use") {
			return err
		}
		for _, key := range []string{"NOMINA_HTTP_ADDR", "NOMINA_METRICS_ADDR", "NOMINA_EMBEDDED_LISTEN"} {
			if !in.hasEnv(key) {
				continue
			}
			port, err := freePort()
			if err != nil {
				return err
			}
			addr := "127.0.0.1:" + strconv.Itoa(port)
			in.setEnv(key, addr)
			switch key {
			case "NOMINA_HTTP_ADDR":
				in.addr = addr
			case "NOMINA_METRICS_ADDR":
				in.metrics = addr
			}
		}
	}
}

func (in *instance) hasEnv(key string) bool {
	for _, kv := range in.env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

func (in *instance) setEnv(key, val string) {
	for i, kv := range in.env {
		if strings.HasPrefix(kv, key+"=") {
			in.env[i] = key + "=" + val
		}
	}
}

func envList(vals map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	for k, v := range vals {
		out = append(out, k+"="+v)
	}
	return out
}

func (in *instance) start(bin string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := os.MkdirAll(in.dir, 0o700); err != nil {
		return err
	}
	lf, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	in.starts++
	fmt.Fprintf(lf, "--- start %d at %s\n", in.starts, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(bin, "serve")
	cmd.Env = in.env
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("start instance %d: %w", in.index+1, err)
	}
	in.cmd, in.logFile = cmd, lf
	exited := make(chan struct{})
	in.exited = exited
	go func() {
		_ = cmd.Wait()
		lf.Close()
		in.mu.Lock()
		if ps := cmd.ProcessState; ps != nil {
			in.cpu += ps.UserTime() + ps.SystemTime()
		}
		in.mu.Unlock()
		close(exited)
	}()
	return nil
}

// cpuTime returns the CPU time the instance's processes used so far (the
// embedded store included, in the first).
func (in *instance) cpuTime() time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	total := in.cpu
	if in.cmd != nil && in.cmd.Process != nil && in.cmd.ProcessState == nil {
		total += procCPU(in.cmd.Process.Pid)
	}
	return total
}

// procCPU reads a running process's user and system time from /proc (0
// where there is none).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in brackets and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// waitReady polls /readyz until it answers 200.
func (in *instance) waitReady(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	cl := &http.Client{Timeout: 2 * time.Second}
	for {
		in.mu.Lock()
		exited := in.exited
		in.mu.Unlock()
		select {
		case <-exited:
			return fmt.Errorf("instance %d exited while starting:\n%s", in.index+1, in.logTail(20))
		default:
		}
		resp, err := cl.Get("http://" + in.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				in.mu.Lock()
				in.up = true
				in.mu.Unlock()
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("instance %d not ready after %v:\n%s", in.index+1, within, in.logTail(20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// keepServed notes what the instance recorded answering the API so far,
// before it is killed and its metrics with it.
func (in *instance) keepServed() {
	st := in.apiStatuses()
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.served == nil {
		in.served = map[string]float64{}
	}
	for k, v := range st {
		in.served[k] += v
	}
}

// servedTotal returns what the instance recorded answering the API since
// it first started, killed processes included; nil when its metrics do
// not answer.
func (in *instance) servedTotal() map[string]float64 {
	now := in.apiStatuses()
	if now == nil {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for k, v := range in.served {
		now[k] += v
	}
	return now
}

// kill sends SIGKILL and waits for the process to be gone.
func (in *instance) kill() {
	in.mu.Lock()
	cmd, exited := in.cmd, in.exited
	in.up = false
	in.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// stop ends the process with SIGTERM (SIGKILL after grace).
func (in *instance) stop(grace time.Duration) {
	in.mu.Lock()
	cmd, exited := in.cmd, in.exited
	in.up = false
	in.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
}

func (in *instance) isUp() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.up
}

// logTail returns the last n lines of the instance's log.
func (in *instance) logTail(n int) string {
	f, err := os.Open(in.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(io.LimitReader(f, 64<<20))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// stop ends every instance, the others before the store's owner.
func (c *cluster) stop() {
	var wg sync.WaitGroup
	for _, in := range c.instances[min(1, len(c.instances)):] {
		wg.Go(func() { in.stop(20 * time.Second) })
	}
	wg.Wait()
	if len(c.instances) > 0 {
		c.instances[0].stop(30 * time.Second)
	}
}

// storeCommands reads the instance's count of store commands by name from
// its metrics (since its last start).
func (in *instance) storeCommands() map[string]float64 {
	out := map[string]float64{}
	in.scrape(func(line string) {
		rest, ok := strings.CutPrefix(line, `nomina_store_operations_total{command="`)
		if !ok {
			return
		}
		name, val, ok := strings.Cut(rest, `"} `)
		if !ok {
			return
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] += v
		}
	})
	return out
}

// apiStatuses reads, from the instance's metrics, how many requests to
// the API it recorded per status since its last start (499: closed by
// their client before the answer). nil when the metrics do not answer.
func (in *instance) apiStatuses() map[string]float64 {
	out := map[string]float64{}
	if !in.scrape(func(line string) {
		rest, ok := strings.CutPrefix(line, "nomina_http_requests_total{")
		if !ok {
			return
		}
		labels, val, ok := strings.Cut(rest, "} ")
		if !ok || !strings.Contains(labels, `route="/api/`) {
			return
		}
		_, status, ok := strings.Cut(labels, `status="`)
		if !ok {
			return
		}
		status, _, _ = strings.Cut(status, `"`)
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[status] += v
		}
	}) {
		return nil
	}
	return out
}

// scrape reads the instance's metrics line by line; false when they do
// not answer.
func (in *instance) scrape(line func(string)) bool {
	if in.metrics == "" {
		return false
	}
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + in.metrics + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line(sc.Text())
	}
	return sc.Err() == nil
}
