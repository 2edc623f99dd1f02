// The one list of the commands the window may call. `build.rs` includes
// this file for the app manifest (each command gets an `allow-…`
// permission), `main.rs` for `generate_handler!`, and the bindings export
// writes it to `ui/src/lib/bindings/commands.ts` for `api.ts`. A test checks
// the capability file, `api.ts` and the e2e mock against it.
//
// Adding a command: write it in `commands.rs`, add its name here, add
// `allow-<name-with-dashes>` to `capabilities/default.json`, run
// `make bindings`, call it from `ui/src/lib/api.ts` and answer it in
// `ui/e2e/mock/backend.ts`.
macro_rules! with_commands {
    ($then:ident) => {
        $then! {
            app_info,
            status,
            demo_server,
            login,
            logout,
            recover_profile,
            collections,
            list_records,
            count_records,
            get_record,
            create_record,
            update_record,
            delete_record,
            restore_record,
            record_history,
            outbox,
            conflicts,
            resolve_conflict,
            sync_now,
            set_work_offline,
            set_notifications,
            quit,
            choose_import_file,
            choose_export_file,
            import_preview,
            import_records,
            cancel_import,
            export_records,
            record_ids,
            update_records,
            tag_records,
            delete_records,
            restore_records,
            discard_change,
            reapply_change,
            set_window_title,
            choose_attach_files,
            attach_files,
            detach_file,
            file_states,
            waiting_files,
            retry_files,
            open_file,
            save_file_as,
            file_thumbnail,
            devices,
            sign_out_device,
            unlock_profile,
            lock_profile,
            security,
            set_app_lock,
        }
    };
}

/// The command names as strings (for build.rs and the tests).
#[allow(unused_macros)]
macro_rules! command_names {
    ($($name:ident),* $(,)?) => {
        &[$(stringify!($name)),*]
    };
}
