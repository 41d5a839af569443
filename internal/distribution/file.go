package distribution

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// FileOriginID is the origin Id of a distribution from the configuration file.
const FileOriginID = "origin"

// FromFile builds the distribution a configuration-file entry declares,
// with CloudFront's defaults for everything the file does not say: one
// custom origin, GET and HEAD cached, query strings not forwarded, TTLs
// 0 / 1 day / 1 year, enabled and Deployed.
func FromFile(id string, origin *url.URL, aliases []string, domainSuffix string, now time.Time) *Distribution {
	o := Origin{
		ID:                 FileOriginID,
		DomainName:         origin.Hostname(),
		OriginPath:         strings.TrimSuffix(origin.Path, "/"),
		ProtocolPolicy:     "http-only",
		HTTPPort:           80,
		HTTPSPort:          443,
		ConnectionAttempts: 3,
		ConnectionTimeout:  10 * time.Second,
		ReadTimeout:        30 * time.Second,
		KeepaliveTimeout:   5 * time.Second,
	}
	port, _ := strconv.Atoi(origin.Port())
	if origin.Scheme == "https" {
		o.ProtocolPolicy = "https-only"
		if port != 0 {
			o.HTTPSPort = port
		}
	} else if port != 0 {
		o.HTTPPort = port
	}
	if domainSuffix == "" {
		domainSuffix = "cloudfront.localhost"
	}
	return &Distribution{
		ID:              id,
		Domain:          strings.ToLower(id) + "." + domainSuffix,
		ETag:            "E" + strings.ToUpper(id[len(id)-min(len(id), 13):]),
		Status:          Deployed,
		LastModified:    now.UTC().Truncate(time.Millisecond),
		CallerReference: "openfront-config-file-" + id,
		FromFile:        true,
		Config: Config{
			Enabled: true,
			Comment: "Declared in openfront's configuration file",
			Aliases: aliases,
			Origins: []Origin{o},
			DefaultBehavior: CacheBehavior{
				TargetOriginID:       FileOriginID,
				ViewerProtocolPolicy: "allow-all",
				AllowedMethods:       []string{"HEAD", "GET"},
				CachedMethods:        []string{"HEAD", "GET"},
				MinTTL:               0,
				DefaultTTL:           86400,
				MaxTTL:               31536000,
				ForwardCookies:       "none",
			},
		},
	}
}
