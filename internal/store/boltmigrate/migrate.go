package boltmigrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Log is the log store a migration writes: Target, made durable by Close.
type Log interface {
	Target
	io.Closer
}

// Names in the data directory during and after a migration.
const (
	// workDir holds the log being written, then also the bbolt file once
	// the log is complete (see Migrate).
	workDir = ".migrate-from-bbolt"
	// BackupName is where the bbolt file is kept after a migration: a
	// directory holding it, for the operator to remove.
	BackupName = "openfront.db.migrated"
)

// Migrate moves dir's bbolt file (FileName) into a log store named
// logName in dir, if dir has one, and returns what it copied (zero Stats
// and no error when there was nothing to move). openLog opens a log store
// in the directory it is given.
//
// Every step can be interrupted by a crash and is finished or redone at
// the next start:
//
//  1. the log is written in dir/.migrate-from-bbolt and closed (durable);
//  2. the bbolt file moves into that directory (one rename): from now on
//     the directory holds a complete log;
//  3. the log moves to dir/logName (one rename);
//  4. the directory becomes dir/openfront.db.migrated, keeping the bbolt
//     file as a backup.
//
// A crash before step 2 leaves the bbolt file in dir, and the partial
// log is removed and written again. A log already in dir next to a bbolt
// file was never used by the versions that kept bbolt in that case; it is
// set aside as logName.unused-<time>.
func Migrate(ctx context.Context, dir, logName string, openLog func(dir string) (Log, error), log *slog.Logger) (Stats, error) {
	var st Stats
	if !exists(dir) {
		return st, nil // a new data directory
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return st, err
	}
	defer unlock()
	work := filepath.Join(dir, workDir)
	dbPath := filepath.Join(dir, FileName)
	logPath := filepath.Join(dir, logName)

	if exists(filepath.Join(work, FileName)) {
		// Interrupted after step 2: the log in work is complete.
		log.Warn("finishing an interrupted migration from bbolt", "dir", dir)
		return st, finish(dir, work, logName)
	}
	if !exists(dbPath) {
		return st, nil
	}
	if err := os.RemoveAll(work); err != nil {
		return st, err
	}
	if exists(logPath) {
		aside := fmt.Sprintf("%s.unused-%s", logPath, time.Now().UTC().Format("20060102T150405Z"))
		log.Warn("data directory holds both a bbolt file and a log; the bbolt file was in use, so the log is set aside", "log", aside)
		if err := os.Rename(logPath, aside); err != nil {
			return st, err
		}
	}
	if err := os.Mkdir(work, 0o700); err != nil {
		return st, err
	}
	log.Info("migrating the bbolt store of an earlier openfront to the log store", "from", dbPath)
	dst, err := openLog(work)
	if err != nil {
		return st, err
	}
	st, err = Copy(ctx, dbPath, dst)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return st, fmt.Errorf("migrating %s to the log store: %w (the bbolt file is unchanged)", dbPath, err)
	}
	if err := syncDir(work); err != nil {
		return st, err
	}
	if err := os.Rename(dbPath, filepath.Join(work, FileName)); err != nil {
		return st, err
	}
	if err := syncDir(dir); err != nil {
		return st, err
	}
	if err := finish(dir, work, logName); err != nil {
		return st, err
	}
	log.Info("migrated the bbolt store to the log store", "distributions", st.Distributions,
		"invalidations", st.Invalidations, "in_progress", st.InProgress,
		"bbolt_file_kept_in", filepath.Join(dir, BackupName))
	return st, nil
}

// finish does steps 3 and 4 of Migrate.
func finish(dir, work, logName string) error {
	if from := filepath.Join(work, logName); exists(from) {
		if err := os.Rename(from, filepath.Join(dir, logName)); err != nil {
			return err
		}
	}
	backup := filepath.Join(dir, BackupName)
	if exists(backup) {
		backup = fmt.Sprintf("%s-%d", backup, time.Now().UnixNano())
	}
	if err := os.Rename(work, backup); err != nil {
		return err
	}
	return syncDir(dir)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, os.ErrNotExist)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
