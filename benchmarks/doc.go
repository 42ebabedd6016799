// Package benchmarks compares blueprint with peer libraries on the same
// workloads, in one run. It is a nested module so that importing blueprint
// never pulls a peer library.
//
// Convention: one BenchmarkArea function per workload, with sub-benchmarks
// named "blueprint" and one per peer (bwmarrin, sonyflake, jxskiss, rtree,
// orb, ...), so that
//
//	go test -run '^$' -bench 'BenchmarkArea$' -benchmem
//
// prints them side by side and benchstat can compare them.
package benchmarks
