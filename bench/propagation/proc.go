package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openfront/openfront/internal/fleet"
)

// writeConfig writes the control plane's configuration: the benchmark's
// distribution and in-progress quotas too high to ever refuse a request.
func writeConfig(dir, originURL string) string {
	cfg := `distributions:
  - id: ` + distID + `
    origin: ` + originURL + `
    aliases: [` + host + `]
limits:
  max_in_progress_file_paths: 100000000
  max_in_progress_wildcard_paths: 100000000
`
	path := filepath.Join(dir, "openfront.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		fatalf("%v", err)
	}
	return path
}

// startControlPlane runs the control plane (per -cp) on a free port.
// profileName names its CPU profile under -profile.
func startControlPlane(dir, cfgPath, profileName string) *proc {
	data := filepath.Join(dir, "data")
	if *cpMode == "inproc" {
		self, err := os.Executable()
		if err != nil {
			fatalf("%v", err)
		}
		args := []string{"-serve-cp", "-config", cfgPath, "-data-dir", data}
		if *memoryStore {
			args = append(args, "-memory")
		}
		if *profileDir != "" {
			out, err := filepath.Abs(filepath.Join(*profileDir, profileName+".pprof"))
			if err != nil {
				fatalf("%v", err)
			}
			args = append(args, "-cpuprofile", out)
		}
		return start("control plane", "openfront API listening on ", self, args...)
	}
	args := []string{"serve", "--no-edge", "--config", cfgPath, "--data-dir", data, "--api-addr", "127.0.0.1:0", "--log-level", "warn"}
	if *memoryStore {
		args = append(args, "--memory")
	}
	return start("control plane", "openfront API listening on ", *bin, append(args, strings.Fields(*cpArgs)...)...)
}

// proc is a child process.
type proc struct {
	name string
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// start runs bin and waits for it to print banner followed by its URL.
func start(name, banner, bin string, args ...string) *proc {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	dieWithParent(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		fatalf("%v", err)
	}
	if err := cmd.Start(); err != nil {
		fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), banner); ok {
				select {
				case urlc <- strings.TrimSpace(u):
				default:
				}
			}
		}
	}()
	go func() { cmd.Wait(); close(p.done) }()
	select {
	case p.url = <-urlc:
	case <-p.done:
		fatalf("%s exited before listening", name)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		fatalf("%s did not start listening", name)
	}
	return p
}

// stop sends SIGTERM and waits for the process to exit.
func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// waitEdges waits until the control plane's registry shows n connected
// edges.
func waitEdges(cpURL string, n int) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(cpURL + fleet.PathAdmin)
		if err == nil {
			var s fleet.Status
			err = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
			connected := 0
			for _, e := range s.Edges {
				if e.Connected {
					connected++
				}
			}
			if err == nil && connected == n && len(s.Edges) == n {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	fatalf("the control plane did not see %d connected edges within 30s", n)
}

const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux

// procCPU returns the CPU time (user + system) process pid has used.
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which ends with ')': utime and stime
	// are fields 14 and 15 of the line.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * tick
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy returns the CPU time all CPUs of the machine spent busy.
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 { // not idle, not iowait, not guest
			busy += n
		}
	}
	return time.Duration(busy) * tick
}

// cpuMeter reads the CPU used by this process, by some child processes
// and by the whole machine between two points.
type cpuMeter struct {
	pids                []int
	self, machine, wall time.Duration
	procs               []time.Duration
	t                   time.Time
}

func newMeter(pids ...int) *cpuMeter {
	m := &cpuMeter{pids: pids, procs: make([]time.Duration, len(pids))}
	m.t = time.Now()
	m.self, m.machine = selfCPU(), machineBusy()
	for i, p := range pids {
		m.procs[i] = procCPU(p)
	}
	return m
}

// cpuUse is what a cpuMeter measured.
type cpuUse struct {
	wall, self, machine time.Duration
	procs               []time.Duration
}

func (m *cpuMeter) read() cpuUse {
	u := cpuUse{wall: time.Since(m.t), self: selfCPU() - m.self, machine: machineBusy() - m.machine, procs: make([]time.Duration, len(m.pids))}
	for i, p := range m.pids {
		u.procs[i] = procCPU(p) - m.procs[i]
	}
	return u
}

// cores is d as a number of busy cores over the measured time.
func (u cpuUse) cores(d time.Duration) float64 { return d.Seconds() / u.wall.Seconds() }

// other is the machine's busy CPU not used by this process or the measured
// children: other programs on the machine (noise).
func (u cpuUse) other() time.Duration {
	o := u.machine - u.self
	for _, p := range u.procs {
		o -= p
	}
	return max(o, 0)
}

func (u cpuUse) String() string {
	var ps []string
	for _, p := range u.procs {
		ps = append(ps, fmt.Sprintf("%.2f", u.cores(p)))
	}
	return fmt.Sprintf("bench %.2f, children [%s], other %.2f cores", u.cores(u.self), strings.Join(ps, " "), u.cores(u.other()))
}

// eventStatus is the control plane's view of one invalidation's log event.
func eventStatus(cpURL, id string) (fleet.EventStatus, error) {
	var st fleet.EventStatus
	resp, err := http.Get(cpURL + fleet.PathAdminInvalidation + distID + "/" + id)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return st, fmt.Errorf("%s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// pos is the log position of invalidation id (0 when unknown).
func pos(cpURL, id string) uint64 {
	st, _ := eventStatus(cpURL, id)
	return st.Position
}

// diagnose describes, after a failure, what the control plane knows of
// invalidation id and of the edges.
func diagnose(cpURL, id string) string {
	var b strings.Builder
	st, err := eventStatus(cpURL, id)
	if err != nil {
		fmt.Fprintf(&b, "  admin invalidation status: %v\n", err)
	} else {
		fmt.Fprintf(&b, "  control plane: event position %d, applied by %d edges, pending %v\n", st.Position, len(st.Applied), st.Pending)
	}
	resp, err := http.Get(cpURL + fleet.PathAdmin)
	if err != nil {
		return b.String()
	}
	defer resp.Body.Close()
	var s fleet.Status
	if json.NewDecoder(resp.Body).Decode(&s) == nil {
		fmt.Fprintf(&b, "  control plane: head %d;", s.Head)
		for _, e := range s.Edges {
			if e.Applied < s.Head || !e.Connected {
				fmt.Fprintf(&b, " %s applied %d connected %v;", e.Name, e.Applied, e.Connected)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// stallWatch measures how late a goroutine sleeping 5ms at a time wakes:
// a process starved of CPU (or stopped) shows long stalls.
type stallWatch struct {
	mu    sync.Mutex
	worst time.Duration
	over  int // wake-ups later than 100ms
	stop  chan struct{}
}

func watchStalls() *stallWatch {
	w := &stallWatch{stop: make(chan struct{})}
	go func() {
		for {
			t := time.Now()
			select {
			case <-w.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			late := time.Since(t) - 5*time.Millisecond
			w.mu.Lock()
			w.worst = max(w.worst, late)
			if late > 100*time.Millisecond {
				w.over++
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// read returns the figures since the last read and starts afresh.
func (w *stallWatch) read() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := fmt.Sprintf("worst wake-up delay %s, %d over 100ms", fmtDur(w.worst), w.over)
	w.worst, w.over = 0, 0
	return s
}
