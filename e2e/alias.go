package e2e

import "unsafe"

// unaliased returns in, or a copy of it if appending to dst may write over
// it. The crypto/cipher AEADs refuse an output that overlaps their input
// anywhere but exactly (they panic), and a wire message's output never
// lines up with its input: Open's plaintext starts where the message's
// header is, before its ciphertext, and Seal writes its header before it
// encrypts, over the plaintext of Seal(pt[:0], pt). With the copy, the
// crypto/cipher idiom of sealing or opening in place works here too, at
// the cost of one allocation.
func unaliased(dst, in []byte) []byte {
	spare := dst[len(dst):cap(dst)]
	if len(spare) == 0 || len(in) == 0 {
		return in
	}
	s0, i0 := uintptr(unsafe.Pointer(unsafe.SliceData(spare))), uintptr(unsafe.Pointer(unsafe.SliceData(in)))
	if s0 < i0+uintptr(len(in)) && i0 < s0+uintptr(len(spare)) {
		return append([]byte(nil), in...)
	}
	return in
}
