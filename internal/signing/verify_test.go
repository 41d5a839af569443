package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	rsaKey, _ = rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _  = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
)

func pemOf(pub any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func b64(b []byte) string {
	return strings.NewReplacer("+", "-", "=", "_", "/", "~").Replace(base64.StdEncoding.EncodeToString(b))
}

func sign(t *testing.T, priv any, h crypto.Hash, msg []byte) string {
	t.Helper()
	var digest []byte
	if h == crypto.SHA256 {
		s := sha256.Sum256(msg)
		digest = s[:]
	} else {
		s := sha1.Sum(msg)
		digest = s[:]
	}
	var sig []byte
	var err error
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, digest)
	case *ecdsa.PrivateKey:
		sig, err = ecdsa.SignASN1(rand.Reader, k, digest)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b64(sig)
}

func trust(t *testing.T) Trust {
	t.Helper()
	kr, err := NewKey("KRSA", pemOf(&rsaKey.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	ke, err := NewKey("KEC", pemOf(&ecKey.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return Trust{"KRSA": kr, "KEC": ke}
}

const now = 1_800_000_000

func clock() time.Time { return time.Unix(now, 0) }

func policy(resource string, cond string) []byte {
	return fmt.Appendf(nil, `{"Statement":[{"Resource":%q,"Condition":{%s}}]}`, resource, cond)
}

func TestCheck(t *testing.T) {
	tr := trust(t)
	const u = "https://d111.cloudfront.net/a/b.jpg?size=1"
	ip := netip.MustParseAddr("192.0.2.10")
	canned := func(priv any, h crypto.Hash, url string, exp int64) Params {
		e := fmt.Sprint(exp)
		return Params{Expires: e, Signature: sign(t, priv, h, cannedPolicy(url, e)), KeyPairID: "KRSA"}
	}
	custom := func(priv any, h crypto.Hash, pol []byte, kid string) Params {
		return Params{Policy: b64(pol), Signature: sign(t, priv, h, pol), KeyPairID: kid}
	}
	lt := fmt.Sprintf(`"DateLessThan":{"AWS:EpochTime":%d}`, now+60)
	cases := []struct {
		name string
		p    Params
		url  string
		ip   string
		want *Denial
	}{
		{"canned", canned(rsaKey, crypto.SHA1, u, now+60), u, "", nil},
		{"canned sha256", func() Params {
			p := canned(rsaKey, crypto.SHA256, u, now+60)
			p.HashAlgorithm = "SHA256"
			return p
		}(), u, "", nil},
		{"canned sha256 signature sent as sha1", canned(rsaKey, crypto.SHA256, u, now+60), u, "", DenyAccessDenied},
		{"canned expired", canned(rsaKey, crypto.SHA1, u, now), u, "", DenyAccessDenied},
		{"canned other url", canned(rsaKey, crypto.SHA1, u, now+60), u + "&x=1", "", DenyAccessDenied},
		{"canned tampered expiry", func() Params {
			p := canned(rsaKey, crypto.SHA1, u, now+60)
			p.Expires = fmt.Sprint(now + 6000)
			return p
		}(), u, "", DenyAccessDenied},
		{"canned bad expiry", func() Params { p := canned(rsaKey, crypto.SHA1, u, now+60); p.Expires = "soon"; return p }(), u, "", DenyAccessDenied},
		{"missing key", Params{Expires: "1", Signature: "x"}, u, "", DenyMissingKey},
		{"unknown key", Params{Expires: "1", Signature: "x", KeyPairID: "KOTHER"}, u, "", DenyUnknownKey},
		{"signature not base64", Params{Expires: fmt.Sprint(now + 60), Signature: "!!!", KeyPairID: "KRSA"}, u, "", DenyBadSignature},
		{"no signature", Params{Expires: fmt.Sprint(now + 60), KeyPairID: "KRSA"}, u, "", DenyAccessDenied},
		{"neither expires nor policy", Params{Signature: "abcd", KeyPairID: "KRSA"}, u, "", DenyAccessDenied},
		{"unknown hash algorithm", func() Params { p := canned(rsaKey, crypto.SHA1, u, now+60); p.HashAlgorithm = "MD5"; return p }(), u, "", DenyAccessDenied},
		{"wrong key's signature", func() Params { p := canned(rsaKey, crypto.SHA1, u, now+60); p.KeyPairID = "KEC"; return p }(), u, "", DenyAccessDenied},
		{"custom wildcard", custom(rsaKey, crypto.SHA1, policy("https://d111.cloudfront.net/a/*", lt), "KRSA"), u, "", nil},
		{"custom wildcard other dir", custom(rsaKey, crypto.SHA1, policy("https://d111.cloudfront.net/z/*", lt), "KRSA"), u, "", DenyAccessDenied},
		{"custom ? wildcard", custom(rsaKey, crypto.SHA1, policy("http?://d111.cloudfront.net/a/?.jpg*", lt), "KRSA"), u, "", nil},
		{"custom no resource", custom(rsaKey, crypto.SHA1, []byte(`{"Statement":[{"Condition":{`+lt+`}}]}`), "KRSA"), u, "", nil},
		{"custom ecdsa sha256", func() Params {
			p := custom(ecKey, crypto.SHA256, policy("*", lt), "KEC")
			p.HashAlgorithm = "SHA256"
			return p
		}(), u, "", nil},
		{"custom ecdsa sha1", custom(ecKey, crypto.SHA1, policy("*", lt), "KEC"), u, "", nil},
		{"custom expired", custom(rsaKey, crypto.SHA1, policy("*", fmt.Sprintf(`"DateLessThan":{"AWS:EpochTime":%d}`, now-1)), "KRSA"), u, "", DenyAccessDenied},
		{"custom not yet valid", custom(rsaKey, crypto.SHA1, policy("*", lt+fmt.Sprintf(`,"DateGreaterThan":{"AWS:EpochTime":%d}`, now+10)), "KRSA"), u, "", DenyAccessDenied},
		{"custom valid after start", custom(rsaKey, crypto.SHA1, policy("*", lt+fmt.Sprintf(`,"DateGreaterThan":{"AWS:EpochTime":%d}`, now-10)), "KRSA"), u, "", nil},
		{"custom ip in range", custom(rsaKey, crypto.SHA1, policy("*", lt+`,"IpAddress":{"AWS:SourceIp":"192.0.2.0/24"}`), "KRSA"), u, "192.0.2.10", nil},
		{"custom wrong ip", custom(rsaKey, crypto.SHA1, policy("*", lt+`,"IpAddress":{"AWS:SourceIp":"198.51.100.0/24"}`), "KRSA"), u, "192.0.2.10", DenyAccessDenied},
		{"custom single ip", custom(rsaKey, crypto.SHA1, policy("*", lt+`,"IpAddress":{"AWS:SourceIp":"192.0.2.10"}`), "KRSA"), u, "192.0.2.10", nil},
		{"custom no DateLessThan", custom(rsaKey, crypto.SHA1, policy("*", `"DateGreaterThan":{"AWS:EpochTime":1}`), "KRSA"), u, "", DenyBadPolicy},
		{"custom two statements", custom(rsaKey, crypto.SHA1, []byte(`{"Statement":[{"Condition":{`+lt+`}},{"Condition":{`+lt+`}}]}`), "KRSA"), u, "", DenyBadPolicy},
		{"custom not json", custom(rsaKey, crypto.SHA1, []byte(`nope`), "KRSA"), u, "", DenyBadPolicy},
		{"custom policy not base64", Params{Policy: "%%%", Signature: "abcd", KeyPairID: "KRSA"}, u, "", DenyBadPolicy},
		{"custom tampered policy", func() Params {
			p := custom(rsaKey, crypto.SHA1, policy("https://d111.cloudfront.net/z/*", lt), "KRSA")
			p.Policy = b64(policy("*", lt))
			return p
		}(), u, "", DenyAccessDenied},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, cache := range []int{-1, 0} { // without and with the cache, twice
				v := NewVerifier(cache, clock)
				for range 2 {
					r := &Request{URL: c.url, Params: c.p}
					if c.ip != "" {
						r.IP = netip.MustParseAddr(c.ip)
					} else {
						r.IP = ip
					}
					if got := v.Check(tr, r); got != c.want {
						t.Fatalf("cache %d: Check = %v, want %v", cache, got, c.want)
					}
				}
			}
		})
	}
}

// A cached verification is never a decision for another address or a
// later time.
func TestCacheRechecksConditions(t *testing.T) {
	tr := trust(t)
	at := time.Unix(now, 0)
	v := NewVerifier(0, func() time.Time { return at })
	pol := policy("*", fmt.Sprintf(`"DateLessThan":{"AWS:EpochTime":%d},"IpAddress":{"AWS:SourceIp":"192.0.2.1/32"}`, now+60))
	p := Params{Policy: b64(pol), Signature: sign(t, rsaKey, crypto.SHA1, pol), KeyPairID: "KRSA"}
	ok := &Request{URL: "http://h/x", IP: netip.MustParseAddr("192.0.2.1"), Params: p}
	if d := v.Check(tr, ok); d != nil {
		t.Fatal(d)
	}
	if v.CacheLen() != 1 {
		t.Fatalf("cache holds %d", v.CacheLen())
	}
	other := *ok
	other.IP = netip.MustParseAddr("192.0.2.2")
	if d := v.Check(tr, &other); d != DenyAccessDenied {
		t.Fatalf("other address: %v", d)
	}
	at = time.Unix(now+60, 0)
	if d := v.Check(tr, ok); d != DenyAccessDenied {
		t.Fatalf("after expiry: %v", d)
	}
	// A key no longer trusted is unknown even with a cached signature.
	if d := v.Check(Trust{}, ok); d != DenyUnknownKey {
		t.Fatalf("untrusted: %v", d)
	}
}

func TestCacheBound(t *testing.T) {
	tr := trust(t)
	v := NewVerifier(20*entryOverhead, clock)
	for i := range 100 {
		pol := policy(fmt.Sprintf("http://h/%d", i), fmt.Sprintf(`"DateLessThan":{"AWS:EpochTime":%d}`, now+60))
		p := Params{Policy: b64(pol), Signature: sign(t, rsaKey, crypto.SHA1, pol), KeyPairID: "KRSA"}
		if d := v.Check(tr, &Request{URL: fmt.Sprintf("http://h/%d", i), Params: p}); d != nil {
			t.Fatal(d)
		}
	}
	if n := v.CacheLen(); n == 0 || n*entryOverhead > 20*entryOverhead {
		t.Fatalf("cache holds %d entries", n)
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"http*://h/*.jpg", "https://h/x/y.jpg", true},
		{"http*://h/*.jpg", "https://h/x/y.png", false},
		{"*a*a*a*a*b", strings.Repeat("a", 200), false},
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"ab*", "a", false},
	} {
		if got := Match(c.p, c.s); got != c.want {
			t.Errorf("Match(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

func TestSplitQuery(t *testing.T) {
	rest, p := SplitQuery("a=1&Expires=5&Signature=ab~c_&b=2&Key-Pair-Id=K1&Hash-Algorithm=SHA256")
	if rest != "a=1&b=2" || p.Expires != "5" || p.Signature != "ab~c_" || p.KeyPairID != "K1" || p.HashAlgorithm != "SHA256" || !p.Any {
		t.Fatalf("%q %+v", rest, p)
	}
	if rest, p := SplitQuery("a=1"); rest != "a=1" || p.Any {
		t.Fatalf("%q %+v", rest, p)
	}
	if rest, p := SplitQuery("Policy=x"); rest != "" || p.Policy != "x" {
		t.Fatalf("%q %+v", rest, p)
	}
}

func TestParseKey(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for _, c := range []struct {
		name, pem string
		ok        bool
	}{
		{"rsa 2048", pemOf(&rsaKey.PublicKey), true},
		{"ecdsa p256", pemOf(&ecKey.PublicKey), true},
		{"pkcs1", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)})), true},
		{"rsa 1024", pemOf(&small.PublicKey), false},
		{"ecdsa p384", pemOf(&p384.PublicKey), false},
		{"not pem", "hello", false},
		{"garbage pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", false},
		{"private key", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)})), false},
		{"huge", strings.Repeat("A", MaxEncodedKeyBytes+1), false},
	} {
		_, err := ParseKey(c.pem)
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.name, err)
		}
	}
}
