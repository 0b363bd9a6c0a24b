package hmc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Job is GET /api/jobs/{id}'s answer.
type Job struct {
	Status     string          `json:"status"` // running, cancel-pending, canceled, complete
	StatusCode int             `json:"job-status-code"`
	ReasonCode int             `json:"job-reason-code"`
	Results    json.RawMessage `json:"job-results"`
}

// StartJob posts to uri (an operation answered by 202 and a job-uri)
// and returns the job URI.
func (c *Client) StartJob(ctx context.Context, uri string, body any) (string, error) {
	r, err := c.Post(ctx, uri, body)
	if err != nil {
		return "", err
	}
	var j struct {
		JobURI string `json:"job-uri"`
	}
	if err := r.Decode(&j); err != nil || j.JobURI == "" {
		return "", &Error{HTTPStatus: r.Status, Message: "answer without job-uri", Method: http.MethodPost, URI: uri, Err: err}
	}
	return j.JobURI, nil
}

// WaitJob polls the job every poll (growing to 1s) until it ends or
// timeout passes, deletes the ended job, and returns an *Error carrying
// the job's status and reason code (and its results' message) when the
// operation failed. On timeout the job is left alone and an error with
// HTTPStatus 0 is returned.
func (c *Client) WaitJob(ctx context.Context, jobURI string, poll, timeout time.Duration) error {
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		var j Job
		if err := c.Get(ctx, jobURI, &j); err != nil {
			return err
		}
		switch j.Status {
		case "complete", "canceled":
			// Completed jobs are deleted as zhmcclient does; a failure to
			// delete does not change the operation's outcome.
			_ = c.Delete(ctx, jobURI)
			if j.Status == "canceled" {
				return &Error{HTTPStatus: j.StatusCode, Reason: j.ReasonCode, Message: "job canceled" + resultMessage(j.Results), Method: "JOB", URI: jobURI}
			}
			if j.StatusCode >= 200 && j.StatusCode < 300 {
				return nil
			}
			return &Error{HTTPStatus: j.StatusCode, Reason: j.ReasonCode, Message: "job failed" + resultMessage(j.Results), Method: "JOB", URI: jobURI}
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return &Error{Method: "JOB", URI: jobURI, Err: fmt.Errorf("job not complete after %v: %w", timeout, ctx.Err())}
		case <-t.C:
		}
		if poll < time.Second {
			poll = min(poll*2, time.Second)
		}
	}
}

func resultMessage(r json.RawMessage) string {
	var m struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if len(r) == 0 || json.Unmarshal(r, &m) != nil {
		return ""
	}
	if m.Message != "" {
		return ": " + m.Message
	}
	if m.Error != "" {
		return ": " + m.Error
	}
	return ""
}
