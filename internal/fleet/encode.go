package fleet

import (
	"github.com/openfront/openfront/internal/eventlog"
	"github.com/openfront/openfront/internal/invalidation"
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
// event of distribution distID's invalidation id (eventlog.InvalidationKey).
func InvalidationKey(distID, id string) string { return eventlog.InvalidationKey(distID, id) }

// ParseInvalidationKey splits a key made by InvalidationKey.
func ParseInvalidationKey(key string) (distID, id string, ok bool) {
	return eventlog.ParseInvalidationKey(key)
}
