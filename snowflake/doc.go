// Package snowflake issues 63-bit, time-ordered, unique IDs without
// coordination, after Twitter's Snowflake (2010): each ID packs a timestamp,
// the number of the node that made it and a per-node sequence number.
//
//	0 | 41-bit milliseconds since 2021-01-01 | 10-bit node | 12-bit sequence
//
// That default [Layout] gives 1024 nodes, 4096 IDs per node and millisecond
// (4.1M IDs/s per node) and runs out in 2090. Other layouts trade the three
// fields differently, per generator: there is no package-level configuration,
// and an [ID] decodes only through the Layout that made it
// ([Layout.Decompose], [Layout.Compose]).
package snowflake
