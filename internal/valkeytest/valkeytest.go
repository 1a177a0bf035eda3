// Package valkeytest starts throwaway Valkey (or Redis) servers for
// integration tests.
//
// Start launches its own server process (valkey-server when it is on PATH,
// else redis-server) on a free loopback port with a temporary working
// directory and no persistence (save "" and appendonly no), waits until the
// process answers PING, and stops it when the test ends. Tests never touch a
// shared server such as the one on port 6379. When no server binary can be
// found the test fails with a clear message: integration tests are never
// silently skipped.
//
// The binary can be forced with the VALKEYTEST_SERVER_BIN environment
// variable.
package valkeytest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"
)

// BinaryEnv names the environment variable that forces the server binary.
const BinaryEnv = "VALKEYTEST_SERVER_BIN"

// sharedPort is the conventional port of a developer's or the service's own
// server; a test server never uses it.
const sharedPort = 6379

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 15 * time.Second

// Server is one running test server. Its methods are safe for concurrent use.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	logFile string
	runs    int
}

// Start starts a fresh server for t and registers its shutdown with
// t.Cleanup. It calls t.Fatal when no server binary is found or the server
// does not come up.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := FindBinary()
	if err != nil {
		t.Fatalf("valkeytest: %v", err)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			lastErr = err
			continue
		}
		s.port = port
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("valkeytest: could not start %s: %v", bin, lastErr)
	return nil
}

// FindBinary returns the server binary Start would run: $VALKEYTEST_SERVER_BIN,
// else valkey-server or redis-server from PATH, else /usr/bin/redis-server.
func FindBinary() (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%q: %w", BinaryEnv, p, err)
		}
		return p, nil
	}
	for _, name := range []string{"valkey-server", "redis-server"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	for _, p := range []string{"/usr/bin/valkey-server", "/usr/bin/redis-server", "/usr/local/bin/valkey-server", "/usr/local/bin/redis-server"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("no valkey-server or redis-server binary found on PATH " +
		"(install one, e.g. `apt-get install redis-server`, or set " + BinaryEnv + ")")
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.port }

// Binary is the path of the server binary in use.
func (s *Server) Binary() string { return s.bin }

// Client returns a client connected to the server, closed when t ends. The
// client reconnects by itself after Restart.
func (s *Server) Client(t testing.TB) valkey.Client {
	t.Helper()
	c, err := valkey.NewClient(valkey.ClientOption{
		InitAddress:  []string{s.Addr()},
		DisableCache: true,
	})
	if err != nil {
		t.Fatalf("valkeytest: client for %s: %v", s.Addr(), err)
	}
	t.Cleanup(c.Close)
	return c
}

// Stop stops the server (all its data is lost: there is no persistence). It
// is idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

// Restart stops the server and starts a new, empty one on the same port.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = s.startLocked(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("valkeytest: restart on port %d: %v", s.port, err)
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startLocked()
}

func (s *Server) startLocked() error {
	s.runs++
	s.logFile = filepath.Join(s.dir, fmt.Sprintf("server-%d.log", s.runs))
	logf, err := os.Create(s.logFile)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--protected-mode", "no",
		"--loglevel", "notice",
		"--logfile", "",
	)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
	if err := s.waitReady(cmd.Process.Pid, exited); err != nil {
		s.stopLocked()
		return fmt.Errorf("%w\n--- server log ---\n%s", err, s.logTail())
	}
	return nil
}

// waitReady waits until the process answers PING and reports its own pid
// (so a foreign server that won a race for the port is never mistaken for
// ours).
func (s *Server) waitReady(pid int, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("server exited during start-up (port %d)", s.port)
		default:
		}
		gotPid, err := probe(s.Addr())
		if err == nil {
			if gotPid != pid {
				return fmt.Errorf("port %d is served by another process (pid %d, ours %d)", s.port, gotPid, pid)
			}
			return nil
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("server did not answer PING within %s: %v", startTimeout, lastErr)
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	cmd, exited := s.cmd, s.exited
	s.cmd, s.exited = nil, nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logFile)
	if err != nil {
		return err.Error()
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// probe sends PING and INFO server over a raw connection and returns the
// server's process_id.
func probe(addr string) (int, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "PING\r\nINFO server\r\n"); err != nil {
		return 0, err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return 0, fmt.Errorf("unexpected PING reply %q", line)
	}
	head, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if !strings.HasPrefix(head, "$") {
		return 0, fmt.Errorf("unexpected INFO reply %q", head)
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil {
		return 0, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, err
	}
	for _, l := range bytes.Split(body, []byte("\r\n")) {
		if v, ok := bytes.CutPrefix(l, []byte("process_id:")); ok {
			return strconv.Atoi(string(v))
		}
	}
	return 0, errors.New("INFO server has no process_id")
}

func freePort() (int, error) {
	for range 10 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port != sharedPort {
			return port, nil
		}
	}
	return 0, errors.New("no free port")
}
