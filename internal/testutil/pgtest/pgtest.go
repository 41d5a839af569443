// Package pgtest gives tests a PostgreSQL database: the server
// OPENFRONT_TEST_POSTGRES_URL names (a role that may create databases), or
// else one it starts itself from the machine's binaries (initdb and
// postgres on PATH), one per test binary, in a temporary directory, on a
// free port of 127.0.0.1 and a unix socket in that directory, stopped when
// the binary ends. As root, the server runs as the user postgres (or
// nobody), since PostgreSQL refuses to run as root. Each test gets a
// database of its own. When neither is available, tests skip, saying why.
//
// A package using it calls Main from its TestMain.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable of an existing server's URL.
const EnvURL = "OPENFRONT_TEST_POSTGRES_URL"

// Server is a PostgreSQL server the tests use.
type Server struct {
	admin string // URL of the database CREATE DATABASE runs in
	// Set for a server this package started:
	dir, data, sock string
	port            int
	cred            *syscall.Credential
	mu              sync.Mutex
	cmd             *exec.Cmd    // the postmaster; guarded by mu
	exited          <-chan error // receives when cmd exits; guarded by mu
	durable         bool
	log             *os.File
}

var (
	once    sync.Once
	shared  *Server
	initErr error
	dbSeq   atomic.Int64
)

// Main runs the tests of m and stops the server, if one was started.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the server, if one was started; a TestMain that does not
// call Main calls it after m.Run.
func Stop() {
	if shared != nil {
		shared.stop()
	}
}

// Get returns the test binary's server, starting it on first use; it
// skips t when there is none to be had.
func Get(t testing.TB) *Server {
	t.Helper()
	once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			shared, initErr = external(u)
			return
		}
		shared, initErr = StartServer(false)
	})
	if initErr != nil {
		t.Skipf("no PostgreSQL for this test: %v (set %s, or put initdb and postgres on PATH)", initErr, EnvURL)
	}
	return shared
}

// NewDatabase returns the URL of a new, empty database on t's server,
// dropped when t ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	s := Get(t)
	name := fmt.Sprintf("openfront_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, err := s.CreateDatabase(ctx, name)
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return url
}

// Own says whether this package started the server (and can kill it).
func (s *Server) Own() bool { return s.dir != "" }

func (s *Server) url(db string) string {
	if !s.Own() {
		// Same server and role, another database.
		if strings.Contains(s.admin, "://") {
			if u, err := url.Parse(s.admin); err == nil {
				u.Path = "/" + db
				return u.String()
			}
		}
		return s.admin + " dbname=" + db
	}
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d", db, s.sock, s.port)
}

func (s *Server) exec(ctx context.Context, sql string) error {
	c, err := pgx.Connect(ctx, s.admin)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql)
	return err
}

func external(u string) (*Server, error) {
	s := &Server{admin: u}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.exec(ctx, `SELECT 1`); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvURL, err)
	}
	return s, nil
}

// StartServer starts a server of its own from the machine's binaries, for
// programs (benchmarks) as well as tests; Stop stops it. Durable keeps
// fsync on (the tests turn it off: they kill the server, never the
// machine).
func StartServer(durable bool) (*Server, error) {
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("postgres"); err != nil {
		return nil, err
	}
	s := &Server{durable: durable}
	if os.Geteuid() == 0 {
		if s.cred, err = unprivileged(); err != nil {
			return nil, err
		}
	}
	if s.dir, err = os.MkdirTemp("", "openfront-pgtest-"); err != nil {
		return nil, err
	}
	s.data, s.sock = filepath.Join(s.dir, "data"), s.dir
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return nil, s.cleanup(err)
		}
	}
	if s.log, err = os.Create(filepath.Join(s.dir, "server.log")); err != nil {
		return nil, s.cleanup(err)
	}
	cmd := exec.Command(initdb, "-D", s.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, s.cleanup(fmt.Errorf("initdb: %v: %s", err, out))
	}
	if s.port, err = freePort(); err != nil {
		return nil, s.cleanup(err)
	}
	s.admin = s.url("postgres")
	if err := s.Start(); err != nil {
		return nil, s.cleanup(err)
	}
	return s, nil
}

// unprivileged is the user the server runs as when the tests run as root.
func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and no user postgres or nobody to run PostgreSQL as")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the server (again, after Kill) and waits until it accepts
// connections.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		fsync, buffers := "off", "32MB"
		if s.durable {
			fsync, buffers = "on", "128MB"
		}
		cmd := exec.Command("postgres", "-D", s.data, "-p", strconv.Itoa(s.port), "-k", s.sock,
			"-c", "listen_addresses=127.0.0.1", "-c", "fsync="+fsync, "-c", "max_connections=200",
			"-c", "shared_buffers="+buffers)
		cmd.Stdout, cmd.Stderr = s.log, s.log
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT}
		if err := cmd.Start(); err != nil {
			return err
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := s.exec(ctx, `SELECT 1`)
			cancel()
			if err == nil {
				s.cmd, s.exited = cmd, exited
				return nil
			}
			select {
			case err := <-exited:
				// Backends of a killed server may still hold its shared
				// memory for a moment: start again.
				if time.Now().After(deadline) {
					return fmt.Errorf("postgres exited: %v (see %s)", err, s.log.Name())
				}
				time.Sleep(100 * time.Millisecond)
			case <-time.After(50 * time.Millisecond):
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					return fmt.Errorf("postgres did not accept connections within 60s (see %s)", s.log.Name())
				}
				continue
			}
			break
		}
	}
}

// Kill kills the postmaster with SIGKILL, as a crash would, and returns
// once its children (backends, which put themselves in process groups of
// their own) have noticed and exited too, so that no connection made
// before is served after; a child still there after 10s is killed.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("pgtest: no server of ours runs")
	}
	pid := s.cmd.Process.Pid
	// Stopped, it forks no child between the look and the kill.
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	children := childrenOf(pid)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-s.exited
	s.cmd = nil
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range children {
		for syscall.Kill(c, 0) == nil {
			if time.Now().After(deadline) {
				syscall.Kill(c, syscall.SIGKILL)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// childrenOf lists the processes whose parent is pid (Linux's /proc).
func childrenOf(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) >= 2 && f[1] == strconv.Itoa(pid) {
			out = append(out, c)
		}
	}
	return out
}

// CreateDatabase creates the database name and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := s.exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()+` TEMPLATE template0`); err != nil {
		return "", err
	}
	return s.url(name), nil
}

// Stop stops a server StartServer started and removes its files.
func (s *Server) Stop() { s.stop() }

func (s *Server) stop() {
	s.mu.Lock()
	if s.cmd != nil {
		// Fast shutdown (roll back, disconnect, exit), then SIGKILL if it
		// takes more than 20s.
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
		s.cmd = nil
	}
	s.mu.Unlock()
	s.cleanup(nil)
}

func (s *Server) cleanup(err error) error {
	if s.log != nil {
		s.log.Close()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
	return err
}
