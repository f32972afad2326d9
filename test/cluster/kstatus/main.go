// Command kstatus judges Kubernetes objects with sigs.k8s.io/cli-utils' kstatus, the library Flux,
// kpt and cli-utils' appliers use to decide whether a change has landed. It reads JSON objects from
// stdin (a stream, as `kubectl get -w -o json` writes them) and prints one JSON line per object:
// {"resourceVersion", "generation", "observedGeneration", "status", "message"}. The tests feed it
// every version the API server serves during a change, so a status that lies for one version is seen.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	ResourceVersion    string `json:"resourceVersion"`
	Generation         int64  `json:"generation"`
	ObservedGeneration int64  `json:"observedGeneration"`
	Status             string `json:"status"`
	Message            string `json:"message"`
	Error              string `json:"error,omitempty"`
}

func main() {
	dec := json.NewDecoder(bufio.NewReader(os.Stdin))
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			fmt.Fprintf(os.Stderr, "kstatus: reading an object: %v\n", err)
			os.Exit(2)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			fmt.Fprintf(os.Stderr, "kstatus: decoding an object: %v\n", err)
			os.Exit(2)
		}
		obj := u.Object
		v := verdict{ResourceVersion: u.GetResourceVersion(), Generation: u.GetGeneration()}
		if og, found, _ := unstructured.NestedInt64(obj, "status", "observedGeneration"); found {
			v.ObservedGeneration = og
		}
		res, err := status.Compute(u)
		if err != nil {
			v.Error = err.Error()
		} else {
			v.Status = res.Status.String()
			v.Message = res.Message
		}
		if err := enc.Encode(v); err != nil {
			os.Exit(2)
		}
		out.Flush()
	}
}
