//go:build !linux

// Command fsynccost measures fdatasync's cost on Linux (see main_linux.go).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "fsynccost: Linux only")
	os.Exit(1)
}
