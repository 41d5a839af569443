package fleet

import (
	"github.com/openfront/openfront/internal/invalidation"
	"strings"
)

// InvalidationEvent returns the key and data under which Hub.Apply logs
// inv, so that a store can log the event in the transaction that creates
// inv (logstore.WithInvalidationEvent); Hub.Apply then finds the key logged and
// appends nothing. The key is empty if inv cannot be encoded (a time
// outside years 0-9999): the hub then logs it itself.
func InvalidationEvent(inv invalidation.Invalidation) (key string, data []byte) {
	data, err := encodeInvalidationEvent(&inv)
	if err != nil {
		return "", nil
	}
	return invalidationKey(inv), data
}

// invalidationKey is the log key of an invalidation's event.
func invalidationKey(inv invalidation.Invalidation) string {
	return InvalidationKey(inv.DistributionID, inv.ID)
}

// InvalidationKey is the log key under which InvalidationEvent logs the
// event of distribution distID's invalidation id. Stores that log the
// event with the invalidation's own record (WithInvalidationEvent) use it
// and ParseInvalidationKey to find it again.
func InvalidationKey(distID, id string) string { return "inv/" + distID + "/" + id }

// ParseInvalidationKey splits a key made by InvalidationKey; ok is false
// for any other key.
func ParseInvalidationKey(key string) (distID, id string, ok bool) {
	rest, ok := strings.CutPrefix(key, "inv/")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}
