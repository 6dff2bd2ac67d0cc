package detectors

import "sort"

// nms keeps, per class, the highest-scoring boxes and drops those that
// overlap a kept box of the same class by more than iou. It reorders cands
// and returns the kept prefix.
func nms(cands []candidate, iou float32) []candidate {
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].score != cands[j].score {
			return cands[i].score > cands[j].score
		}
		return cands[i].class < cands[j].class
	})
	kept := cands[:0]
	for _, c := range cands {
		keep := true
		for _, k := range kept {
			if k.class == c.class && k.box.IoU(c.box) > iou {
				keep = false
				break
			}
		}
		if keep {
			kept = append(kept, c)
		}
	}
	return kept
}
