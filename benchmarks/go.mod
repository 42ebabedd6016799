module github.com/blueprint-go/blueprint/benchmarks

go 1.26.0

require (
	github.com/bwmarrin/snowflake v0.3.0
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/google/btree v1.1.3
	github.com/jxskiss/base62 v1.1.0
	github.com/paulmach/orb v0.14.0
	github.com/sony/sonyflake v1.2.0
	github.com/stretchr/testify v1.10.0
	github.com/tidwall/rtree v1.10.0
	golang.org/x/crypto v0.59.0
	golang.org/x/time v0.16.0
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

require (
	github.com/blueprint-go/blueprint v0.0.0-00010101000000-000000000000
	github.com/tidwall/geoindex v1.7.0 // indirect
)

replace github.com/blueprint-go/blueprint => ../
