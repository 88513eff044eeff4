package promapi

import (
	"fmt"
	"io"

	jsoniter "github.com/json-iterator/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/jsonutil"
)

// response is the envelope of every API answer, with Prometheus' keys in
// Prometheus' order.
type response struct {
	Status    string
	Data      any
	ErrorType errorType
	Error     string
	Warnings  []string
	Infos     []string
}

// queryData is the data of /query and /query_range.
type queryData struct {
	ResultType parser.ValueType
	Result     parser.Value
}

// encodeResponse writes resp as JSON. Query results are streamed with the
// same number formatting as Prometheus' own codec (prometheus/util/jsonutil);
// everything else goes through the standard-library-compatible encoder.
func encodeResponse(w io.Writer, resp *response) error {
	// The standard-library-compatible configuration sorts map keys and
	// honours json.Marshaler; nothing is registered on it.
	api := jsoniter.ConfigCompatibleWithStandardLibrary
	s := api.BorrowStream(w)
	defer api.ReturnStream(s)

	s.WriteObjectStart()
	s.WriteObjectField("status")
	s.WriteString(resp.Status)
	if resp.Data != nil {
		s.WriteMore()
		s.WriteObjectField("data")
		writeData(s, resp.Data)
	}
	if resp.ErrorType != "" {
		s.WriteMore()
		s.WriteObjectField("errorType")
		s.WriteString(string(resp.ErrorType))
	}
	if resp.Error != "" {
		s.WriteMore()
		s.WriteObjectField("error")
		s.WriteString(resp.Error)
	}
	writeStrings(s, "warnings", resp.Warnings)
	writeStrings(s, "infos", resp.Infos)
	s.WriteObjectEnd()
	s.WriteRaw("\n")
	if s.Error != nil {
		return s.Error
	}
	return s.Flush()
}

func writeStrings(s *jsoniter.Stream, field string, v []string) {
	if len(v) == 0 {
		return
	}
	s.WriteMore()
	s.WriteObjectField(field)
	s.WriteArrayStart()
	for i, w := range v {
		if i > 0 {
			s.WriteMore()
		}
		s.WriteString(w)
	}
	s.WriteArrayEnd()
}

func writeData(s *jsoniter.Stream, data any) {
	switch d := data.(type) {
	case *queryData:
		s.WriteObjectStart()
		s.WriteObjectField("resultType")
		s.WriteString(string(d.ResultType))
		s.WriteMore()
		s.WriteObjectField("result")
		writeValue(s, d.Result)
		s.WriteObjectEnd()
	case []labels.Labels:
		s.WriteArrayStart()
		for i, l := range d {
			if i > 0 {
				s.WriteMore()
			}
			writeLabels(s, l)
		}
		s.WriteArrayEnd()
	default:
		s.WriteVal(d)
	}
}

// writeValue writes a promql result: vectors and matrices with
// prometheus/util/jsonutil's timestamp and float formatting, scalars and
// strings with promql's own MarshalJSON, exactly as Prometheus does.
func writeValue(s *jsoniter.Stream, v parser.Value) {
	switch r := v.(type) {
	case promql.Vector:
		s.WriteArrayStart()
		for i, smp := range r {
			if i > 0 {
				s.WriteMore()
			}
			writeSample(s, smp)
		}
		s.WriteArrayEnd()
	case promql.Matrix:
		s.WriteArrayStart()
		for i, ser := range r {
			if i > 0 {
				s.WriteMore()
			}
			writeSeries(s, ser)
		}
		s.WriteArrayEnd()
	case promql.Scalar, promql.String:
		b, err := r.(interface{ MarshalJSON() ([]byte, error) }).MarshalJSON()
		if err != nil {
			s.Error = fmt.Errorf("encode %s result: %w", v.Type(), err)
			return
		}
		s.WriteRaw(string(b))
	default:
		s.WriteVal(v)
	}
}

func writeSample(s *jsoniter.Stream, smp promql.Sample) {
	s.WriteObjectStart()
	s.WriteObjectField("metric")
	writeLabels(s, smp.Metric)
	s.WriteMore()
	if smp.H == nil {
		s.WriteObjectField("value")
	} else {
		s.WriteObjectField("histogram")
	}
	s.WriteArrayStart()
	jsonutil.MarshalTimestamp(smp.T, s)
	s.WriteMore()
	if smp.H == nil {
		jsonutil.MarshalFloat(smp.F, s)
	} else {
		jsonutil.MarshalHistogram(smp.H, s)
	}
	s.WriteArrayEnd()
	s.WriteObjectEnd()
}

func writeSeries(s *jsoniter.Stream, ser promql.Series) {
	s.WriteObjectStart()
	s.WriteObjectField("metric")
	writeLabels(s, ser.Metric)
	if len(ser.Floats) > 0 {
		s.WriteMore()
		s.WriteObjectField("values")
		s.WriteArrayStart()
		for i, p := range ser.Floats {
			if i > 0 {
				s.WriteMore()
			}
			s.WriteArrayStart()
			jsonutil.MarshalTimestamp(p.T, s)
			s.WriteMore()
			jsonutil.MarshalFloat(p.F, s)
			s.WriteArrayEnd()
		}
		s.WriteArrayEnd()
	}
	if len(ser.Histograms) > 0 {
		s.WriteMore()
		s.WriteObjectField("histograms")
		s.WriteArrayStart()
		for i, p := range ser.Histograms {
			if i > 0 {
				s.WriteMore()
			}
			s.WriteArrayStart()
			jsonutil.MarshalTimestamp(p.T, s)
			s.WriteMore()
			jsonutil.MarshalHistogram(p.H, s)
			s.WriteArrayEnd()
		}
		s.WriteArrayEnd()
	}
	s.WriteObjectEnd()
}

func writeLabels(s *jsoniter.Stream, l labels.Labels) {
	s.WriteObjectStart()
	first := true
	l.Range(func(lb labels.Label) {
		if !first {
			s.WriteMore()
		}
		first = false
		s.WriteObjectField(lb.Name)
		s.WriteString(lb.Value)
	})
	s.WriteObjectEnd()
}
