package e2e

import "testing"

func TestSmoke(t *testing.T) {
	for _, he := range []bool{false, true} {
		opts := Options{HeaderEncryption: he}
		alice, _ := NewIdentity(nil)
		bob, _ := NewIdentity(nil)
		kr, err := NewKeyring(bob, opts)
		if err != nil {
			t.Fatal(err)
		}
		otps, _ := kr.GenerateOneTimePrekeys(2)
		b := Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey(), OneTimePrekey: &otps[0]}
		as, err := Initiate(alice, b, opts)
		if err != nil {
			t.Fatal(err)
		}
		m1, _ := as.Seal(nil, []byte("hi"))
		m2, _ := as.Seal(nil, []byte("there"))
		bs, pt, err := kr.Accept(nil, m2)
		if err != nil || string(pt) != "there" {
			t.Fatal(err, pt)
		}
		pt, err = bs.Open(nil, m1)
		if err != nil || string(pt) != "hi" {
			t.Fatal(err, pt)
		}
		r, _ := bs.Seal(nil, []byte("yo"))
		pt, err = as.Open(nil, r)
		if err != nil || string(pt) != "yo" {
			t.Fatal(err, pt)
		}
		for i := 0; i < 5; i++ {
			m, _ := as.Seal(nil, []byte("a"))
			if _, err := bs.Open(nil, m); err != nil {
				t.Fatal(i, err)
			}
			r, _ := bs.Seal(nil, []byte("b"))
			if _, err := as.Open(nil, r); err != nil {
				t.Fatal(i, err)
			}
		}
	}
}
