//go:build !linux

package feedsim

import "time"

// threadCPU is not measured outside Linux: the CPU columns stay 0.
func threadCPU() time.Duration { return 0 }
