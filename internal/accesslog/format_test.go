package accesslog

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The example lines of the developer guide's "Standard log file format"
// (docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/AccessLogs.html),
// with the entries that make them.
func TestAppendLineAWSExamples(t *testing.T) {
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.108 Safari/537.36"
	tests := []struct {
		e    Entry
		want string
	}{
		{
			e: Entry{
				Time: time.Date(2019, 12, 4, 21, 2, 31, 0, time.UTC), Location: "LAX1", SentBytes: 392,
				ClientIP: netip.MustParseAddr("192.0.2.100"), Method: []byte("GET"), Host: "d111111abcdef8.cloudfront.net",
				URIStem: []byte("/index.html"), Status: 200, UserAgent: []byte(ua), Result: "Hit",
				RequestID: []byte("SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ=="), HostHeader: []byte("d111111abcdef8.cloudfront.net"),
				Protocol: "https", ReceivedBytes: 23, TimeTaken: time.Millisecond, SSLProtocol: "TLSv1.2", SSLCipher: "ECDHE-RSA-AES128-GCM-SHA256",
				ResponseResult: "Hit", ProtocolVersion: []byte("HTTP/2.0"), ClientPort: 11040, TimeToFirstByte: time.Millisecond,
				DetailedResult: "Hit", ContentType: []byte("text/html"), ContentLength: 78, RangeStart: -1, RangeEnd: -1,
			},
			want: "2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\t-\tMozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108%20Safari/537.36\t-\t-\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\td111111abcdef8.cloudfront.net\thttps\t23\t0.001\t-\tTLSv1.2\tECDHE-RSA-AES128-GCM-SHA256\tHit\tHTTP/2.0\t-\t-\t11040\t0.001\tHit\ttext/html\t78\t-\t-\n",
		},
		{
			e: Entry{
				Time: time.Date(2019, 12, 13, 22, 36, 27, 0, time.UTC), Location: "SEA19-C1", SentBytes: 900,
				ClientIP: netip.MustParseAddr("192.0.2.200"), Method: []byte("GET"), Host: "d111111abcdef8.cloudfront.net",
				URIStem: []byte("/favicon.ico"), Status: 502, Referer: []byte("http://www.example.com/"), UserAgent: []byte(ua), Result: "Error",
				RequestID: []byte("1pkpNfBQ39sYMnjjUQjmH2w1wdJnbHYTbag21o_3OfcQgPzdL2RSSQ=="), HostHeader: []byte("www.example.com"),
				Protocol: "http", ReceivedBytes: 675, TimeTaken: 102 * time.Millisecond,
				ResponseResult: "Error", ProtocolVersion: []byte("HTTP/1.1"), ClientPort: 25260, TimeToFirstByte: 102 * time.Millisecond,
				DetailedResult: "OriginDnsError", ContentType: []byte("text/html"), ContentLength: 507, RangeStart: -1, RangeEnd: -1,
			},
			want: "2019-12-13\t22:36:27\tSEA19-C1\t900\t192.0.2.200\tGET\td111111abcdef8.cloudfront.net\t/favicon.ico\t502\thttp://www.example.com/\tMozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108%20Safari/537.36\t-\t-\tError\t1pkpNfBQ39sYMnjjUQjmH2w1wdJnbHYTbag21o_3OfcQgPzdL2RSSQ==\twww.example.com\thttp\t675\t0.102\t-\t-\t-\tError\tHTTP/1.1\t-\t-\t25260\t0.102\tOriginDnsError\ttext/html\t507\t-\t-\n",
		},
		{
			e: Entry{
				Time: time.Date(2019, 12, 13, 22, 37, 2, 0, time.UTC), Location: "SEA19-C2", SentBytes: 900,
				ClientIP: netip.MustParseAddr("192.0.2.200"), Method: []byte("GET"), Host: "d111111abcdef8.cloudfront.net",
				URIStem: []byte("/"), Status: 502, UserAgent: []byte("curl/7.55.1"), Result: "Error",
				RequestID: []byte("kBkDzGnceVtWHqSCqBUqtA_cEs2T3tFUBbnBNkB9El_uVRhHgcZfcw=="), HostHeader: []byte("www.example.com"),
				Protocol: "http", ReceivedBytes: 387, TimeTaken: 103 * time.Millisecond,
				ResponseResult: "Error", ProtocolVersion: []byte("HTTP/1.1"), ClientPort: 12644, TimeToFirstByte: 103 * time.Millisecond,
				DetailedResult: "OriginDnsError", ContentType: []byte("text/html"), ContentLength: 507, RangeStart: -1, RangeEnd: -1,
			},
			want: "2019-12-13\t22:37:02\tSEA19-C2\t900\t192.0.2.200\tGET\td111111abcdef8.cloudfront.net\t/\t502\t-\tcurl/7.55.1\t-\t-\tError\tkBkDzGnceVtWHqSCqBUqtA_cEs2T3tFUBbnBNkB9El_uVRhHgcZfcw==\twww.example.com\thttp\t387\t0.103\t-\t-\t-\tError\tHTTP/1.1\t-\t-\t12644\t0.103\tOriginDnsError\ttext/html\t507\t-\t-\n",
		},
	}
	for i, tt := range tests {
		got := string(AppendLine(nil, &tt.e, false))
		if got != tt.want {
			t.Errorf("example %d:\n got %q\nwant %q", i, got, tt.want)
		}
		if n := strings.Count(got, "\t") + 1; n != 33 {
			t.Errorf("example %d: %d fields, want 33", i, n)
		}
	}
	if n := len(strings.Fields(strings.TrimPrefix(Fields, "#Fields: "))); n != 33 {
		t.Errorf("#Fields names %d fields, want 33", n)
	}
}

// Every character the guide lists is URL-encoded, control characters and
// bytes over 126 too (a tab or newline in a header cannot break a line),
// and nothing else.
func TestFieldEncoding(t *testing.T) {
	in := "a b<>\"#%{}|\\^~[]`'\t\n\x00\x7f\xc3\xa9/:;,()=&?+@!$*"
	want := "a%20b%3C%3E%22%23%25%7B%7D%7C%5C%5E%7E%5B%5D%60%27%09%0A%00%7F%C3%A9/:;,()=&?+@!$*"
	if got := string(appendField(nil, in)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := string(appendField(nil, []byte(nil))); got != "-" {
		t.Errorf("empty: %q, want -", got)
	}
	// A percent-encoded path is encoded again, as CloudFront logs it.
	if got := string(appendField(nil, "/a%20b")); got != "/a%2520b" {
		t.Errorf("got %q", got)
	}
}

func TestCookiesOnlyWhenIncluded(t *testing.T) {
	e := Entry{Time: time.Unix(0, 0), Cookie: []byte("a=1; b=2"), ContentLength: -1, RangeStart: -1, RangeEnd: -1}
	field := func(line string) string { return strings.Split(line, "\t")[12] }
	if got := field(string(AppendLine(nil, &e, false))); got != "-" {
		t.Errorf("cookies off: %q", got)
	}
	if got := field(string(AppendLine(nil, &e, true))); got != "a=1;%20b=2" {
		t.Errorf("cookies on: %q", got)
	}
}

func TestSecondsAndIPv6(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0.000", 82 * time.Millisecond: "0.082", 12345 * time.Millisecond: "12.345", -time.Second: "0.000"} {
		if got := string(appendSeconds(nil, d)); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
	e := Entry{Time: time.Unix(0, 0), ClientIP: netip.MustParseAddr("::ffff:192.0.2.1"), ContentLength: -1, RangeStart: 0, RangeEnd: 99}
	f := strings.Split(string(AppendLine(nil, &e, false)), "\t")
	if f[4] != "192.0.2.1" || f[8] != "000" || f[26] != "-" || f[31] != "0" || strings.TrimSpace(f[32]) != "99" {
		t.Errorf("fields: %q", f)
	}
	e.ClientIP = netip.MustParseAddr("2001:db8::1")
	if f := strings.Split(string(AppendLine(nil, &e, false)), "\t"); f[4] != "2001:db8::1" {
		t.Errorf("IPv6: %q", f[4])
	}
}

func TestAppendLineAllocs(t *testing.T) {
	e := Entry{Time: time.Now(), ClientIP: netip.MustParseAddr("192.0.2.1"), Method: []byte("GET"), URIStem: []byte("/a b"), UserAgent: []byte("curl/8"), ContentLength: 10, RangeStart: -1, RangeEnd: -1}
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = AppendLine(buf[:0], &e, true) }); n != 0 {
		t.Errorf("%v allocations per line, want 0", n)
	}
}

// BenchmarkAppendLine formats a typical hit's line.
func BenchmarkAppendLine(b *testing.B) {
	e := Entry{Time: time.Now(), Location: "LOCAL1-C1", SentBytes: 1400, ClientIP: netip.MustParseAddr("192.0.2.1"), ClientPort: 50000,
		Method: []byte("GET"), Host: "d111111abcdef8.cloudfront.localhost", URIStem: []byte("/images/cat.jpg"), Status: 200,
		Referer: []byte("http://www.example.com/"), UserAgent: []byte("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"),
		Result: "Hit", RequestID: []byte("SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ=="), HostHeader: []byte("d111111abcdef8.cloudfront.localhost"),
		Protocol: "http", ReceivedBytes: 200, ResponseResult: "Hit", ProtocolVersion: []byte("HTTP/1.1"), DetailedResult: "Hit",
		ContentType: []byte("image/jpeg"), ContentLength: 1024, RangeStart: -1, RangeEnd: -1}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendLine(buf[:0], &e, false)
	}
	b.SetBytes(int64(len(buf)))
}
