// Command fsynccost measures what one group commit's fdatasync costs on a
// disk: wall time and the process's CPU time per sync, for appends of
// -size bytes to a preallocated file (as the log store appends frames).
// It separates the kernel's and the device's cost (-raw: RawSyscall, no
// Go scheduler work around the call) from the Go runtime's (the default:
// syscall.Fdatasync, whose P is handed off and retaken by sysmon).
//
//	go run ./bench/fsynccost -dir /path/on/the/disk [-n 5000] [-size 8192] [-raw] [-direct] [-busy 1]
//
// It also prints the block device's write and flush requests per sync
// (from /sys/block/<dev>/stat), to show what one sync asks of the device.
//
// docs/benchmarks.md quotes its figures for this machine.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	var (
		dir    = flag.String("dir", os.TempDir(), "directory on the disk to measure (a file fsynccost.data is written there and removed)")
		n      = flag.Int("n", 5000, "syncs")
		size   = flag.Int("size", 8192, "bytes appended before each sync")
		raw    = flag.Bool("raw", false, "fdatasync through RawSyscall: no hand-off of the P (the kernel's and device's cost alone)")
		direct = flag.Bool("direct", false, "open with O_DIRECT (writes go to the device at once; the sync is the flush alone)")
		busy   = flag.Int("busy", 0, "goroutines spinning meanwhile, so that a P in a syscall is retaken as under load (their CPU counts too)")
	)
	flag.Parse()
	for range *busy {
		go func() {
			for i := 0; ; i++ {
				if i%1000 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	path := filepath.Join(*dir, "fsynccost.data")
	flags := os.O_RDWR | os.O_CREATE | os.O_TRUNC
	if *direct {
		flags |= syscall.O_DIRECT
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		fatal(err)
	}
	defer os.Remove(path)
	defer f.Close()

	// Zeros ahead, synced once, as the log store preallocates: the syncs
	// measured change no file size, so they carry no metadata.
	const area = 64 << 20
	buf := aligned(max(*size, 1<<20))
	for off := 0; off < area; off += 1 << 20 {
		if _, err := f.WriteAt(buf[:1<<20], int64(off)); err != nil {
			fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		fatal(err)
	}
	buf = buf[:*size]
	fd := int(f.Fd())

	dev := deviceStat(f)
	dev0 := dev.read()
	cpu0, t0 := cpuTime(), time.Now()
	var synced time.Duration
	off := 0
	for range *n {
		if _, err := syscall.Pwrite(fd, buf, int64(off)); err != nil {
			fatal(err)
		}
		if off += *size; off+*size > area {
			off = 0
		}
		s := time.Now()
		if *raw {
			if _, _, e := syscall.RawSyscall(syscall.SYS_FDATASYNC, uintptr(fd), 0, 0); e != 0 {
				fatal(e)
			}
		} else if err := syscall.Fdatasync(fd); err != nil {
			fatal(err)
		}
		synced += time.Since(s)
	}
	wall, cpu := time.Since(t0), cpuTime()-cpu0
	dev1 := dev.read()
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(*n) }
	fmt.Printf("%d syncs of %d-byte appends (raw %v, direct %v, busy %d) in %s: %.0f µs wall per append+sync, %.0f µs in fdatasync, %.0f µs of process CPU per sync\n",
		*n, *size, *raw, *direct, *busy, *dir, per(wall), per(synced), per(cpu))
	if dev0 != nil && dev1 != nil {
		// Whole-device counters: anything else writing meanwhile counts
		// too, so run it on a quiet machine.
		d := func(i int) float64 { return float64(dev1[i]-dev0[i]) / float64(*n) }
		fmt.Printf("device %s per sync: %.2f write requests (%.1f KiB), %.2f flush requests\n",
			dev.name, d(statWrites), d(statWriteSectors)/2, d(statFlushes))
		fmt.Println("  (the kernel counts an empty pre-flush write among the writes: one data write and one flush show as 2 writes and 1 flush)")
	}
}

// Fields of /sys/block/<dev>/stat (Documentation/block/stat.rst).
const (
	statWrites       = 4
	statWriteSectors = 6
	statFlushes      = 15
)

// blockStat is the block device holding a file, read through sysfs.
type blockStat struct{ name, path string }

// deviceStat finds the stat file of the device that holds f, or returns
// one whose read gives nil (tmpfs, or a kernel without flush counters).
func deviceStat(f *os.File) blockStat {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return blockStat{}
	}
	sys := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	name, err := filepath.EvalSymlinks(sys)
	if err != nil {
		return blockStat{}
	}
	return blockStat{name: filepath.Base(name), path: filepath.Join(sys, "stat")}
}

func (b blockStat) read() []uint64 {
	if b.path == "" {
		return nil
	}
	data, err := os.ReadFile(b.path)
	if err != nil {
		return nil
	}
	fields := strings.Fields(string(data))
	if len(fields) <= statFlushes {
		return nil
	}
	v := make([]uint64, len(fields))
	for i, s := range fields {
		if v[i], err = strconv.ParseUint(s, 10, 64); err != nil {
			return nil
		}
	}
	return v
}

// aligned returns n bytes at a 4 KiB boundary, as O_DIRECT needs.
func aligned(n int) []byte {
	b := make([]byte, n+4096)
	skip := (4096 - int(uintptr(unsafe.Pointer(&b[0]))%4096)) % 4096
	return b[skip : skip+n]
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "fsynccost:", err)
	os.Exit(1)
}
