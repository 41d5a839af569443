// Command origin is the origin server of the edge-cache benchmark
// (bench/edge/run.sh): it serves /1k and /100k, bodies of 1 KiB and
// 100 KiB, with Cache-Control: max-age=3600 so that every cache in front of
// it (openfront, nginx proxy_cache, Varnish) keeps them for the whole run.
// Any other path is 404. It counts the requests it answers and reports the
// count on GET /_count, so the benchmark can check that the measured
// traffic was served from the caches, not from here.
//
//	origin -addr 127.0.0.1:0
//
// prints "origin listening on http://ADDR" once it accepts connections.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()

	modTime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	objects := map[string][]byte{
		"/1k":   body(1 << 10),
		"/100k": body(100 << 10),
	}
	var served atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_count", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, served.Load())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b, ok := objects[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		served.Add(1)
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Cache-Control", "max-age=3600")
		h.Set("ETag", `"`+strconv.Itoa(len(b))+`"`)
		http.ServeContent(w, r, "", modTime, bytes.NewReader(b))
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "origin:", err)
		os.Exit(1)
	}
	fmt.Printf("origin listening on http://%s\n", ln.Addr())
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, "origin:", err)
		os.Exit(1)
	}
}

// body returns n bytes of printable, non-repeating-looking content.
func body(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[(i*7+i/36)%36]
	}
	return b
}
