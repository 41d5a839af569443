// Command openfront is a CloudFront-compatible CDN: the CloudFront API for
// invalidations, backed by a durable store.
//
//	openfront serve --config examples/openfront.yaml
package main

import (
	"fmt"
	"os"
)

const usage = `openfront: a CloudFront-compatible CDN in one binary

Usage:
  openfront serve [flags]     run the CloudFront API and an edge (see: openfront serve -h)
  openfront edge [flags]      run an edge alone, following a control plane (see: openfront edge -h)
  openfront version           print the version
`

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		os.Exit(runServe(os.Args[2:]))
	case "edge":
		os.Exit(runEdge(os.Args[2:]))
	case "version", "--version", "-v":
		fmt.Println("openfront", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "openfront: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
}
