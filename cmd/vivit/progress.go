package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress shows the engine's current stage and the elapsed time on a
// terminal, on one line that is redrawn in place and cleared at the end.
// It prints nothing when the destination is not a terminal or with --quiet.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	start time.Time
	msg   string
	width int
	stop  chan struct{}
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok && !quiet {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

// stage is an Options.Progress callback.
func (p *progress) stage(name string, block, blocks int) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msg = "vivit: " + name
	if blocks > 1 {
		p.msg += fmt.Sprintf(" (block %d of %d)", block+1, blocks)
	}
	p.draw()
	if p.stop == nil {
		p.stop = make(chan struct{})
		go p.tick(p.stop)
	}
}

func (p *progress) tick(stop chan struct{}) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
		}
	}
}

// draw rewrites the line; p.mu must be held.
func (p *progress) draw() {
	line := fmt.Sprintf("%s … %.1fs", p.msg, time.Since(p.start).Seconds())
	fmt.Fprintf(p.w, "\r%-*s", p.width, line)
	p.width = max(p.width, len([]rune(line)))
}

// done stops the display and clears its line.
func (p *progress) done() {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
	if p.width > 0 {
		fmt.Fprintf(p.w, "\r%*s\r", p.width, "")
		p.width = 0
	}
}
