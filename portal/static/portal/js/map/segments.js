// What the bubbles are segmented by: the map's segmenting code set when it has one (data.segments,
// with each cell's studies per segment in cell.seg, the "not coded" studies last), else the study
// designs (data.designs and cell.designs). A segment is known by its index, which picks its colour.

// [{ label }] for every segment the data can hold, in order.
export function segmentList(data) {
  if (data.segments) {
    return [...data.segments.codes.map((code) => ({ label: code.name })), { label: data.segments.uncoded }];
  }
  return Object.values(data.designs).map((label) => ({ label }));
}

// [index, number of studies] for each segment of the cell with studies.
export function cellSegments(cell, data, designIndex) {
  if (data.segments) {
    return (cell.seg || []).map((n, index) => [index, n]).filter(([, n]) => n > 0);
  }
  return Object.entries(cell.designs).map(([code, n]) => [designIndex.get(code) || 0, n]);
}

// The legend's heading for the segments.
export function segmentTitle(data) {
  return data.segments ? data.segments.title : gettext("Study design");
}

// "Urban 2, Rural 1": the cell's segments in words, or "" without any.
export function segmentText(cell, data, designIndex, labels) {
  return cellSegments(cell, data, designIndex).map(([index, n]) => `${labels[index].label} ${n}`).join(", ");
}
