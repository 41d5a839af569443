package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openfront/openfront/internal/distribution"
)

// PublishConfigFile logs the distributions of the control plane's
// configuration file (the whole file: edges forget file distributions it
// no longer declares), so that edges which resume after a restart with a
// changed file run what it now says. Nothing is logged when the log's
// last event is this same file, or when there is no file and no log.
// Like Remove, it does not wait for the edges.
func (h *Hub) PublishConfigFile(ctx context.Context, ds []*distribution.Distribution) (uint64, error) {
	list := make([]distribution.Distribution, 0, len(ds))
	for _, d := range ds {
		c := *d
		c.RawConfig = nil
		c.FromFile = true
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b distribution.Distribution) int { return strings.Compare(a.ID, b.ID) })
	// The digest ignores LastModified: it is the start-up time.
	canon := slices.Clone(list)
	for i := range canon {
		canon[i].LastModified = time.Time{}
	}
	data, err := json.Marshal(canon)
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:16])
	_, last, err := h.store.LogBounds(ctx)
	if err != nil {
		return 0, err
	}
	if last == 0 && len(list) == 0 {
		return 0, nil
	}
	if last > 0 {
		evs, err := h.store.EventsAfter(ctx, last-1, 1)
		if err != nil {
			return 0, err
		}
		if len(evs) == 1 && evs[0].Pos == last && eventKind(evs[0].Data) == KindConfigFile {
			var prev Event
			if json.Unmarshal(evs[0].Data, &prev) == nil && prev.Hash == hash {
				return last, nil
			}
		}
	}
	return h.Publish(ctx, "file/"+hash+"/"+strconv.FormatUint(last, 10), Event{Kind: KindConfigFile, Distributions: list, Hash: hash})
}
