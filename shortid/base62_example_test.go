package shortid_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/blueprint-go/blueprint/shortid"
)

func ExampleEncode() {
	fmt.Println(shortid.Encode(0), shortid.Encode(61), shortid.Encode(62), shortid.Encode(1<<64-1))

	n, err := shortid.Decode("10")
	fmt.Println(n, err)

	_, err = shortid.Decode("007")
	fmt.Println(err, errors.Is(err, shortid.ErrInvalidCode))
	// Output:
	// 0 Z 10 lYGhA16ahyf
	// 62 <nil>
	// shortid: invalid code: leading zero true
}

func ExampleNewCodec() {
	// Crockford's base 32 digits: no i, l, o or u to misread.
	c, err := shortid.NewCodec("0123456789abcdefghjkmnpqrstvwxyz")
	if err != nil {
		log.Fatal(err)
	}
	code := c.Encode(1_000_000)
	n, err := c.Decode(code)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(code, n)
	// Output:
	// ygj0 1000000
}
