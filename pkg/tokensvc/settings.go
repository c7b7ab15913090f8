package tokensvc

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/store"
)

// Sources of a setting's value, as GET /settings reports them.
const (
	SourceDefault = "default" // never set: the deployment's configuration applies
	SourceTable   = "table"   // set by an admin, kept in the token table
)

// SettingsView is the answer of GET and PUT /settings.
type SettingsView struct {
	AllowUserManagedTokens bool   `json:"allowUserManagedTokens"`
	Source                 string `json:"source"`
	UpdatedBy              string `json:"updatedBy,omitempty"`
	UpdatedAt              int64  `json:"updatedAt,omitempty"`
}

// SettingsRequest is the body of PUT /settings. The pointer tells a missing
// field (400) from false.
type SettingsRequest struct {
	AllowUserManagedTokens *bool `json:"allowUserManagedTokens"`
}

// settingsCache keeps the last settings read from the store for
// Config.SettingsTTL, so that a self-service create does not cost an extra
// read each time; a change made elsewhere is seen within that TTL.
type settingsCache struct {
	mu   sync.Mutex
	val  store.Settings
	read time.Time // when val was read; zero = nothing cached
}

// GetSettings returns the settings in force, read from the store now (not
// from the cache): any authenticated caller may see them, since the
// console offers self-service only while it is allowed.
func (s *Service) GetSettings(ctx context.Context, caller auth.Principal) (SettingsView, error) {
	st, err := s.readSettings(ctx)
	if err != nil {
		return SettingsView{}, err
	}
	return s.settingsView(st), nil
}

// PutSettings replaces the settings (admins only; an API-token caller must
// hold the admin group itself) and returns the new state.
func (s *Service) PutSettings(ctx context.Context, caller auth.Principal, req SettingsRequest) (SettingsView, error) {
	if !caller.IsAdmin {
		return SettingsView{}, apierr.New(apierr.Forbidden, "only admins can change the settings").WithCode("not_admin")
	}
	if req.AllowUserManagedTokens == nil {
		return SettingsView{}, apierr.New(apierr.Invalid, "allowUserManagedTokens is required: true or false").WithCode("invalid_settings")
	}
	allow := *req.AllowUserManagedTokens
	// The current value, read afresh, is the old value the audit event
	// records; concurrent changes both record what they replaced as
	// they saw it.
	prev, err := s.readSettings(ctx)
	if err != nil {
		return SettingsView{}, err
	}
	st := store.Settings{AllowUserManagedTokens: &allow, UpdatedBy: caller.Username, UpdatedAt: s.now().Unix()}
	ev := s.event(ctx, caller, store.ActionSettings, store.SettingsSubject, "",
		store.Change{Field: "allowUserManagedTokens", Old: fmtBool(s.settingsView(prev).AllowUserManagedTokens), New: fmtBool(allow)})
	if err := s.store.PutSettings(ctx, st, ev); err != nil {
		return SettingsView{}, storeFailure(err, "write settings")
	}
	s.cacheSettings(st)
	s.logger.InfoContext(ctx, "settings changed", slog.Bool("allowUserManagedTokens", allow),
		slog.String("updatedBy", st.UpdatedBy), slog.String("via", createdVia(caller)))
	return s.settingsView(st), nil
}

func (s *Service) settingsView(st store.Settings) SettingsView {
	if st.AllowUserManagedTokens == nil {
		return SettingsView{AllowUserManagedTokens: s.cfg.AllowUserManaged, Source: SourceDefault}
	}
	return SettingsView{AllowUserManagedTokens: *st.AllowUserManagedTokens, Source: SourceTable, UpdatedBy: st.UpdatedBy, UpdatedAt: st.UpdatedAt}
}

// allowUserManaged is the setting in force for self-service creates: the
// table's value when an admin set one, else ALLOW_USER_MANAGED_TOKENS. It
// reuses a read for up to Config.SettingsTTL. A failed read is an error
// (503), never a guess: the setting decides who may create tokens.
func (s *Service) allowUserManaged(ctx context.Context) (bool, error) {
	st, ok := s.cachedSettings()
	if !ok {
		var err error
		if st, err = s.readSettings(ctx); err != nil {
			return false, err
		}
	}
	return s.settingsView(st).AllowUserManagedTokens, nil
}

// readSettings reads the store and refreshes the cache with the result.
func (s *Service) readSettings(ctx context.Context) (store.Settings, error) {
	st, err := s.store.GetSettings(ctx)
	if err != nil {
		return store.Settings{}, storeFailure(err, "read settings")
	}
	s.cacheSettings(st)
	return st, nil
}

func (s *Service) cachedSettings() (store.Settings, bool) {
	if s.cfg.SettingsTTL <= 0 {
		return store.Settings{}, false
	}
	s.settings.mu.Lock()
	defer s.settings.mu.Unlock()
	if s.settings.read.IsZero() {
		return store.Settings{}, false
	}
	if age := s.now().Sub(s.settings.read); age < 0 || age >= s.cfg.SettingsTTL {
		return store.Settings{}, false
	}
	return s.settings.val, true
}

func (s *Service) cacheSettings(st store.Settings) {
	if s.cfg.SettingsTTL <= 0 {
		return
	}
	s.settings.mu.Lock()
	defer s.settings.mu.Unlock()
	s.settings.val, s.settings.read = st, s.now()
}
