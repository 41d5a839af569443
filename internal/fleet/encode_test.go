package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/invalidation"
)

// recordingStore logs what the hub appends.
type recordingStore struct {
	Store
	key  string
	data []byte
}

func (r *recordingStore) LogBounds(context.Context) (uint64, uint64, error) { return 1, 0, nil }

func (r *recordingStore) Edges(context.Context) (map[string][]byte, error) { return nil, nil }

func (r *recordingStore) PutEdge(context.Context, string, []byte) error { return nil }

func (r *recordingStore) DeleteEdge(context.Context, string) error { return nil }

func (r *recordingStore) AppendEvent(ctx context.Context, key string, data []byte) (uint64, error) {
	r.key, r.data = key, bytes.Clone(data)
	return 1, nil
}

// TestInvalidationEventIsWhatApplyAppends: a store that logs
// InvalidationEvent's key and data logs exactly what Hub.Apply would.
func TestInvalidationEventIsWhatApplyAppends(t *testing.T) {
	inv := invalidation.Invalidation{DistributionID: "EDIST", ID: "I2J0I21PCUYOIK", Status: invalidation.InProgress,
		CreateTime: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), Batch: invalidation.Batch{CallerReference: "r", Paths: []string{"/a", "/b*"}}}
	key, data := InvalidationEvent(inv)
	rec := &recordingStore{}
	h, err := NewHub(context.Background(), HubConfig{Store: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// No edge in the registry: Apply returns once the event is logged.
	if err := h.Apply(context.Background(), inv); err != nil {
		t.Fatal(err)
	}
	if key != rec.key || !bytes.Equal(data, rec.data) {
		t.Errorf("InvalidationEvent = %q %s; Hub.Apply appends %q %s", key, data, rec.key, rec.data)
	}
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil || ev.Kind != KindInvalidation || ev.Invalidation == nil || ev.Invalidation.ID != inv.ID {
		t.Errorf("data %s does not decode to the invalidation's event (%v)", data, err)
	}
}
