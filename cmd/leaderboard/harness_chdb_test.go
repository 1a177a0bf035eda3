//go:build chdb

package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Tests that start the service run the real binary as a subprocess: chDB
// allows one engine per process, and restarts must be real restarts.
var (
	binPath       string // built with -tags chdb
	serverBinPath string // built without chDB
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "leaderboard-bin-")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "leaderboard")
	serverBinPath = filepath.Join(dir, "leaderboard-server")
	for _, b := range []struct {
		out  string
		tags []string
	}{{binPath, []string{"-tags", "chdb"}}, {serverBinPath, nil}} {
		args := append([]string{"build"}, b.tags...)
		args = append(args, "-o", b.out, ".")
		cmd := exec.Command("go", args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			panic(fmt.Sprintf("go build: %v", err))
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// instance is one service process with its own data folder and ports.
type instance struct {
	t       testing.TB
	env     map[string]string
	cmd     *exec.Cmd
	logs    *syncBuffer
	exited  chan struct{}
	httpURL string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newInstance prepares the environment of a service on embedded defaults
// with the given Valkey address.
func newInstance(t testing.TB, valkeyAddr string) *instance {
	httpAddr := freeAddr(t)
	return &instance{
		t: t,
		env: map[string]string{
			"LEADERBOARD_HTTP_ADDR":           httpAddr,
			"LEADERBOARD_EMBEDDED_KAFKA_ADDR": freeAddr(t),
			"LEADERBOARD_DATA_DIR":            t.TempDir(),
			"LEADERBOARD_VALKEY_ADDR":         valkeyAddr,
			"LEADERBOARD_LOG_LEVEL":           "debug",
		},
		httpURL: "http://" + httpAddr,
	}
}

func (in *instance) environ() []string {
	env := append([]string{}, os.Environ()...)
	for k, v := range in.env {
		env = append(env, k+"="+v)
	}
	return env
}

// runCmd runs a one-shot subcommand and returns its exit code, stdout and stderr.
func (in *instance) runCmd(bin string, args ...string) (int, string, string) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = in.environ()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.True(in.t, ok, "run %v: %v", args, err)
		code = ee.ExitCode()
	}
	return code, out.String(), errb.String()
}

func (in *instance) migrate() {
	in.t.Helper()
	code, out, errOut := in.runCmd(binPath, "migrate", "up")
	require.Equal(in.t, 0, code, "migrate up: %s %s", out, errOut)
}

// start launches `serve` and waits until /health answers ok.
func (in *instance) start() time.Duration {
	in.t.Helper()
	return in.startWith("ok")
}

// startWith launches `serve` and waits until /health answers status.
func (in *instance) startWith(status string) time.Duration {
	in.t.Helper()
	begin := time.Now()
	in.cmd = exec.Command(binPath, "serve")
	in.cmd.Env = in.environ()
	in.logs = &syncBuffer{}
	in.cmd.Stdout, in.cmd.Stderr = in.logs, in.logs
	if dir := os.Getenv("LEADERBOARD_TEST_LOGDIR"); dir != "" {
		// Also to a file, for post-mortems of a test that hangs.
		if f, err := os.Create(filepath.Join(dir, filepath.Base(in.t.Name())+".log")); err == nil {
			in.t.Cleanup(func() { f.Close() })
			w := io.MultiWriter(in.logs, f)
			in.cmd.Stdout, in.cmd.Stderr = w, w
		}
	}
	require.NoError(in.t, in.cmd.Start())
	in.exited = make(chan struct{})
	go func() { _ = in.cmd.Wait(); close(in.exited) }()
	in.t.Cleanup(func() { in.kill() })
	require.Eventually(in.t, func() bool {
		select {
		case <-in.exited:
			return true
		default:
		}
		h, err := in.health()
		return err == nil && h.Status == status
	}, 60*time.Second, 100*time.Millisecond, "service did not reach status %s", status)
	select {
	case <-in.exited:
		in.t.Fatalf("service exited during start: %s", in.logs.String())
	default:
	}
	return time.Since(begin)
}

// stop sends SIGTERM and returns the exit code.
func (in *instance) stop() int {
	in.t.Helper()
	require.NoError(in.t, in.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-in.exited:
	case <-time.After(60 * time.Second):
		in.t.Fatalf("service did not stop within 60s: %s", in.logs.String())
	}
	return in.cmd.ProcessState.ExitCode()
}

func (in *instance) kill() {
	if in.cmd == nil || in.cmd.Process == nil {
		return
	}
	select {
	case <-in.exited:
	default:
		_ = in.cmd.Process.Kill()
		<-in.exited
	}
}

type healthBody struct {
	Status       string `json:"status"`
	Dependencies map[string]struct {
		Status    string  `json:"status"`
		LatencyMS float64 `json:"latency_ms"`
	} `json:"dependencies"`
	ConsumedOffsets map[string]map[string]int64 `json:"consumed_offsets"`
}

func (in *instance) health() (healthBody, error) {
	var h healthBody
	resp, err := http.Get(in.httpURL + "/health")
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &h); err != nil {
		return h, fmt.Errorf("health %d: %s", resp.StatusCode, body)
	}
	return h, nil
}

func sumOffsets(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// waitConsumed waits until both stores report n records consumed in /health.
func (in *instance) waitConsumed(n int64) {
	in.t.Helper()
	require.Eventually(in.t, func() bool {
		h, err := in.health()
		return err == nil && sumOffsets(h.ConsumedOffsets["service"]) == n && sumOffsets(h.ConsumedOffsets["clickhouse"]) == n
	}, 60*time.Second, 100*time.Millisecond, "both stores consume %d records", n)
}

func (in *instance) getJSON(path string, out any) {
	in.t.Helper()
	resp, err := http.Get(in.httpURL + path)
	require.NoError(in.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(in.t, http.StatusOK, resp.StatusCode, "GET %s: %s", path, body)
	require.NoError(in.t, json.Unmarshal(body, out), string(body))
}

// get returns the status and body of GET path.
func (in *instance) get(path string) (int, string) {
	in.t.Helper()
	resp, err := http.Get(in.httpURL + path)
	require.NoError(in.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
