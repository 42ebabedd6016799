module github.com/blueprint-go/blueprint/benchmarks

go 1.26.0

require (
	github.com/bwmarrin/snowflake v0.3.0
	github.com/jxskiss/base62 v1.1.0
	github.com/paulmach/orb v0.14.0
	github.com/sony/sonyflake v1.2.0
	github.com/tidwall/rtree v1.10.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/google/btree v1.1.3 // indirect
	golang.org/x/time v0.16.0 // indirect
)

require (
	github.com/blueprint-go/blueprint v0.0.0-00010101000000-000000000000
	github.com/tidwall/geoindex v1.7.0 // indirect
)

replace github.com/blueprint-go/blueprint => ../
