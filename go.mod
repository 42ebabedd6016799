module github.com/blueprint-go/blueprint

go 1.26.0

require (
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/google/btree v1.1.3
	golang.org/x/crypto v0.59.0
	golang.org/x/time v0.16.0
)

require golang.org/x/sys v0.50.0 // indirect
