//go:build !race

package cloudfront

const raceEnabled = false
