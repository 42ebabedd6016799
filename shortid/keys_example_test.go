package shortid_test

import (
	"context"
	"fmt"
	"log"

	"github.com/blueprint-go/blueprint/shortid"
)

func ExampleNewSequence() {
	// In production the secret comes from a secret store: 32 random bytes.
	secret := []byte("example secret, 32 bytes long...")
	seq, err := shortid.NewSequence(new(shortid.MemCounter), shortid.SequenceOptions{
		Keys: []shortid.Key{{Version: 1, Secret: secret}},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		code, err := seq.AppendKey(ctx, nil)
		if err != nil {
			log.Fatal(err)
		}
		counter, version, err := seq.Reverse(string(code))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s is counter value %d under key %d\n", code, counter, version)
	}
	// Output:
	// lnoPw2f is counter value 0 under key 1
	// qA3L8vG is counter value 1 under key 1
	// PJt7bPD is counter value 2 under key 1
}

// Rotating the key: the new key owns the counter values from its Since on,
// and the old one still reverses the codes it issued.
func ExampleSequence_Reverse() {
	ring := []shortid.Key{
		{Version: 1, Secret: []byte("the first secret, 32 bytes long.")},
		{Version: 2, Since: 1000, Secret: []byte("the second secret, 32 bytes long")},
	}
	seq, err := shortid.NewSequence(shortid.NewMemCounter(998), shortid.SequenceOptions{Keys: ring})
	if err != nil {
		log.Fatal(err)
	}
	for range 4 {
		code, err := seq.AppendKey(context.Background(), nil)
		if err != nil {
			log.Fatal(err)
		}
		counter, version, err := seq.Reverse(string(code))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(counter, version)
	}
	// Output:
	// 998 1
	// 999 1
	// 1000 2
	// 1001 2
}

func ExampleNewRandom() {
	r, err := shortid.NewRandom(shortid.RandomOptions{Length: 8}) // crypto/rand
	if err != nil {
		log.Fatal(err)
	}
	code, err := r.AppendKey(context.Background(), []byte("https://sho.rt/"))
	fmt.Println(len(code), err)
	// Output:
	// 23 <nil>
}
