package cloudfront

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/signing"
)

// Public keys and key groups: what signed URLs and cookies are checked
// against (internal/signing).
var (
	publicKeyAPI = &kindAPI{
		kind: resource.PublicKey, base: "/2020-05-31/public-key", arn: "public-key",
		name: "PublicKey", plural: "PublicKeys",
		config: "PublicKeyConfig", doc: "PublicKey", list: "PublicKeyList",
		updateOnConfig: true, bareList: true, decode: decodePublicKey, head: publicKeyHead, summary: publicKeySummary,
		ops: [6]Operation{OpCreatePublicKey, OpGetPublicKey, OpGetPublicKeyConfig, OpUpdatePublicKey, OpDeletePublicKey, OpListPublicKeys},
	}
	keyGroupAPI = &kindAPI{
		kind: resource.KeyGroup, base: "/2020-05-31/key-group", arn: "key-group",
		name: "KeyGroup", plural: "KeyGroups",
		config: "KeyGroupConfig", doc: "KeyGroup", list: "KeyGroupList",
		bareList: true, decode: decodeKeyGroup, head: lastModified, summary: keyGroupSummary, refs: keyGroupRefs,
		ops: [6]Operation{OpCreateKeyGroup, OpGetKeyGroup, OpGetKeyGroupConfig, OpUpdateKeyGroup, OpDeleteKeyGroup, OpListKeyGroups},
	}
)

func init() {
	kindAPIs[publicKeyAPI.kind] = publicKeyAPI
	kindAPIs[keyGroupAPI.kind] = keyGroupAPI
}

// Quotas of public keys and key groups: CloudFront's defaults.
const (
	// MaxPublicKeys is how many public keys an account may have.
	MaxPublicKeys = 10
	// MaxKeyGroups is how many key groups an account may have.
	MaxKeyGroups = 10
	// MaxKeysPerKeyGroup is how many public keys a key group may name.
	MaxKeysPerKeyGroup = 5
)

// KeyGroupRules are the rules resource.Service applies to public keys
// (Ids of K and 13 of A-Z0-9; 10 per account) and key groups (UUIDs; 10
// per account): CloudFront's error codes and messages.
func KeyGroupRules(kind resource.Kind) resource.Rules {
	r := resource.Rules{Kind: kind}
	switch kind {
	case resource.PublicKey:
		r.Max = MaxPublicKeys
		r.NewID = func() string { return "K" + resource.RandomID(13) }
		r.NoSuch, r.NoSuchMessage = "NoSuchPublicKey", "The specified public key doesn't exist."
		r.AlreadyExists, r.AlreadyExistsMessage = "PublicKeyAlreadyExists", "The specified public key already exists."
		r.InUse, r.InUseMessage = "PublicKeyInUse", "The specified public key is in use."
		r.TooMany, r.TooManyMessage = "TooManyPublicKeys", "The maximum number of public keys for field-level encryption have been created. To create a new public key, delete one of the existing keys."
	case resource.KeyGroup:
		r.Max = MaxKeyGroups
		r.NewID = resource.UUID
		r.NoSuch, r.NoSuchMessage = "NoSuchResource", "A resource that was specified is not valid."
		r.AlreadyExists, r.AlreadyExistsMessage = "KeyGroupAlreadyExists", "A key group with this name already exists. You must provide a unique name. To modify an existing key group, use UpdateKeyGroup."
		r.InUse, r.InUseMessage = "ResourceInUse", "Cannot delete this resource because it is in use."
		r.TooMany, r.TooManyMessage = "TooManyKeyGroups", "You have reached the maximum number of key groups for this Amazon Web Services account. For more information, see Quotas (formerly known as limits) in the Amazon CloudFront Developer Guide."
	}
	return r
}

// routeKeyGroups registers the operations of public keys and key groups.
func (h *Handler) routeKeyGroups(m *http.ServeMux) {
	h.routeKind(m, publicKeyAPI)
	h.routeKind(m, keyGroupAPI)
}

// decodePublicKey reads and validates a PublicKeyConfig. An update may
// change the comment only (CannotChangeImmutablePublicKeyFields).
func decodePublicKey(e *xmlmodel.Element, old *resource.Resource, check bool) (string, []byte, error) {
	var k signing.PublicKey
	k.Name, _ = e.Value("Name")
	k.CallerReference, _ = e.Value("CallerReference")
	k.EncodedKey, _ = e.Value("EncodedKey")
	k.Comment, _ = e.Value("Comment")
	if err := k.Validate(); check && err != nil {
		return "", nil, err
	}
	if old == nil {
		k.Created = nowUTC()
	} else {
		prev, err := signing.DecodePublicKey(old.Config)
		if err != nil {
			return "", nil, err
		}
		if prev.Name != k.Name || prev.CallerReference != k.CallerReference || prev.EncodedKey != k.EncodedKey {
			return "", nil, &resource.Error{Code: "CannotChangeImmutablePublicKeyFields", Message: "You can't change the value of a public key."}
		}
		k.Created = prev.Created
	}
	return k.Name, signing.Encode(k), nil
}

func publicKeyOf(r *resource.Resource) signing.PublicKey {
	k, _ := signing.DecodePublicKey(r.Config) // written by decodePublicKey
	return k
}

// publicKeyHead is a PublicKey's CreatedTime.
func publicKeyHead(r *resource.Resource) []*xmlmodel.Element {
	return []*xmlmodel.Element{xmlmodel.New("CreatedTime", publicKeyOf(r).Created.UTC().Format(timeFormat))}
}

// publicKeySummary is a PublicKeySummary: Id, Name, CreatedTime,
// EncodedKey and Comment.
func publicKeySummary(r *resource.Resource, cfg *xmlmodel.Element) *xmlmodel.Element {
	k := publicKeyOf(r)
	s := xmlmodel.NewParent("PublicKeySummary",
		xmlmodel.New("Id", r.ID),
		xmlmodel.New("Name", k.Name),
		xmlmodel.New("CreatedTime", k.Created.UTC().Format(timeFormat)),
		xmlmodel.New("EncodedKey", k.EncodedKey))
	if c := cfg.Child("Comment"); c != nil {
		s.Children = append(s.Children, c)
	}
	return s
}

// decodeKeyGroup reads and validates a KeyGroupConfig; at most
// MaxKeysPerKeyGroup keys (TooManyPublicKeysInKeyGroup). That each key
// exists is the store's rule (the group's Refs).
func decodeKeyGroup(e *xmlmodel.Element, _ *resource.Resource, check bool) (string, []byte, error) {
	var g signing.KeyGroup
	g.Name, _ = e.Value("Name")
	g.Comment, _ = e.Value("Comment")
	g.Keys = texts(e.Items())
	if check {
		if len(g.Keys) > MaxKeysPerKeyGroup {
			return "", nil, &resource.Error{Code: "TooManyPublicKeysInKeyGroup", Message: "The number of public keys in this key group is more than the maximum allowed. For more information, see Quotas (formerly known as limits) in the Amazon CloudFront Developer Guide."}
		}
		if err := g.Validate(); err != nil {
			return "", nil, err
		}
	}
	return g.Name, signing.Encode(g), nil
}

// keyGroupRefs are the public keys a key group names.
func keyGroupRefs(typed []byte) []resource.Ref {
	g, err := signing.DecodeKeyGroup(typed)
	if err != nil {
		return nil
	}
	refs := make([]resource.Ref, 0, len(g.Keys))
	for _, id := range g.Keys {
		refs = append(refs, resource.Ref{Kind: resource.PublicKey, ID: id})
	}
	return refs
}

// keyGroupSummary is a KeyGroupSummary: the whole KeyGroup.
func keyGroupSummary(r *resource.Resource, cfg *xmlmodel.Element) *xmlmodel.Element {
	kg := xmlmodel.NewParent("KeyGroup", xmlmodel.New("Id", r.ID))
	kg.Children = append(kg.Children, lastModified(r)...)
	kg.Children = append(kg.Children, cfg)
	return xmlmodel.NewParent("KeyGroupSummary", kg)
}

// nowUTC is a public key's CreatedTime at its creation, to the
// millisecond as the API shows it.
func nowUTC() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// writeActiveSigners writes a distribution's ActiveTrustedSigners and
// ActiveTrustedKeyGroups: the signers and key groups its behaviors trust,
// each once in the order the behaviors name them (the default behavior
// first), with the Ids of their public keys. openfront has no CloudFront
// key pairs: an account in TrustedSigners stands for the account's public
// keys (docs/compatibility.md). A key group or key that cannot be read
// is listed without keys.
func (h *Handler) writeActiveSigners(b *strings.Builder, r *http.Request, d *distribution.Distribution) {
	var signers, groups []string
	seen := map[string]bool{}
	for _, cb := range append([]distribution.CacheBehavior{d.Config.DefaultBehavior}, d.Config.Behaviors...) {
		for _, s := range cb.TrustedSigners {
			if !seen["s"+s] {
				seen["s"+s] = true
				signers = append(signers, s)
			}
		}
		for _, g := range cb.TrustedKeyGroups {
			if !seen["g"+g] {
				seen["g"+g] = true
				groups = append(groups, g)
			}
		}
	}
	keyPairIDs := func(ids []string) {
		b.WriteString("<KeyPairIds><Quantity>" + strconv.Itoa(len(ids)) + "</Quantity>")
		if len(ids) > 0 {
			b.WriteString("<Items>")
			for _, id := range ids {
				b.WriteString("<KeyPairId>")
				escapeTo(b, id)
				b.WriteString("</KeyPairId>")
			}
			b.WriteString("</Items>")
		}
		b.WriteString("</KeyPairIds>")
	}
	b.WriteString("<ActiveTrustedSigners><Enabled>" + strconv.FormatBool(len(signers) > 0) + "</Enabled><Quantity>" + strconv.Itoa(len(signers)) + "</Quantity>")
	if len(signers) > 0 {
		var keys []string
		if svc := h.resources[resource.PublicKey]; svc != nil {
			all, _ := svc.List(r.Context())
			for _, k := range all {
				keys = append(keys, k.ID)
			}
		}
		b.WriteString("<Items>")
		for _, s := range signers {
			b.WriteString("<Signer><AwsAccountNumber>")
			escapeTo(b, s)
			b.WriteString("</AwsAccountNumber>")
			keyPairIDs(keys)
			b.WriteString("</Signer>")
		}
		b.WriteString("</Items>")
	}
	b.WriteString("</ActiveTrustedSigners>")
	b.WriteString("<ActiveTrustedKeyGroups><Enabled>" + strconv.FormatBool(len(groups) > 0) + "</Enabled><Quantity>" + strconv.Itoa(len(groups)) + "</Quantity>")
	if len(groups) > 0 {
		b.WriteString("<Items>")
		for _, id := range groups {
			var keys []string
			if svc := h.resources[resource.KeyGroup]; svc != nil {
				if res, err := svc.Get(r.Context(), id); err == nil {
					if g, err := signing.DecodeKeyGroup(res.Config); err == nil {
						keys = g.Keys
					}
				}
			}
			b.WriteString("<KeyGroup><KeyGroupId>")
			escapeTo(b, id)
			b.WriteString("</KeyGroupId>")
			keyPairIDs(keys)
			b.WriteString("</KeyGroup>")
		}
		b.WriteString("</Items>")
	}
	b.WriteString("</ActiveTrustedKeyGroups>")
}
