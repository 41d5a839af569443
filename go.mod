module github.com/openfront/openfront

go 1.26.8

require (
	go.etcd.io/bbolt v1.4.3
	go.yaml.in/yaml/v3 v3.0.6
)

require golang.org/x/sys v0.29.0 // indirect
