// SPDX-License-Identifier: GPL-2.0

//! The device initialization sequence.
//!
//! [`DeviceInit`] walks a device through spec §3.1.1, in order:
//!
//! 1. reset, waiting (bounded) for the status to read back 0;
//! 2. set `ACKNOWLEDGE`;
//! 3. set `DRIVER`;
//! 4. read the device features ([`DeviceInit::begin`]), negotiate, decide
//!    how the device addresses memory ([`crate::dma::addressing`]; a device
//!    a confidential guest cannot share memory with is refused here) and
//!    write the driver features ([`DeviceInit::negotiate`]); the
//!    configuration may be read but not written;
//! 5. set `FEATURES_OK` (modern interfaces only);
//! 6. re-read the status and fail unless `FEATURES_OK` is still set;
//! 7. device-specific setup: queues, configuration writes
//!    ([`DeviceInit::transport`], [`DeviceInit::write_config_u8`] etc.);
//! 8. set `DRIVER_OK` ([`DeviceInit::driver_ok`]).
//!
//! Legacy interfaces skip steps 5 and 6 (spec §3.1.2).
//!
//! Every failure sets `FAILED` (spec §3.1.1: the driver "SHOULD set the
//! FAILED status bit" and "MUST NOT continue"); so does dropping a
//! [`DeviceInit`] before `DRIVER_OK`. Steps are enforced at run time:
//! out-of-order calls fail with [`InitError::WrongPhase`], and a
//! configuration write before `FEATURES_OK` with
//! [`InitError::ConfigWriteBeforeFeaturesOk`] without reaching the device.
//!
//! [`initialize`] runs the whole sequence around a setup callback.
//!
//! Ref: virtio v1.4 §3.1 "Device Initialization".

use super::{
    config::{
        read_consistent,
        ConfigError,
        ConfigReader,
        DEFAULT_CONFIG_RETRIES, //
    },
    dma::{
        self,
        Addressing,
        AddressingError, //
    },
    features::{
        negotiate,
        DriverFeatures,
        Features,
        NegotiationError, //
    },
    spec::Status,
    transport::{
        Transport,
        TransportError,
        TransportSetup, //
    },
};

/// Why initialization failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitError {
    /// A transport access failed.
    Transport(TransportError),
    /// The status did not read back 0 after a reset within the poll bound.
    ResetTimeout,
    /// Feature negotiation failed.
    Negotiation(NegotiationError),
    /// The device cleared `FEATURES_OK`: it does not support the accepted
    /// subset.
    FeaturesRejected,
    /// The device set `DEVICE_NEEDS_RESET` during initialization.
    DeviceNeedsReset,
    /// A configuration write before `FEATURES_OK` (spec §3.1.1 step 4).
    ConfigWriteBeforeFeaturesOk,
    /// A configuration read did not become consistent within the bound.
    ConfigUnstable,
    /// A step was called out of order, or after a failure.
    WrongPhase,
    /// The device cannot address memory as this guest requires
    /// ([`dma::addressing`]); nothing was written to the device.
    Addressing(AddressingError),
}

impl From<TransportError> for InitError {
    fn from(e: TransportError) -> Self {
        Self::Transport(e)
    }
}

impl From<NegotiationError> for InitError {
    fn from(e: NegotiationError) -> Self {
        Self::Negotiation(e)
    }
}

impl From<ConfigError> for InitError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::Transport(t) => Self::Transport(t),
            ConfigError::Unstable => Self::ConfigUnstable,
        }
    }
}

/// Tunables of the initialization sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitOptions {
    /// Status polls after a reset before giving up.
    pub reset_poll_limit: u32,
    /// Tries of a consistent configuration read.
    pub config_retries: u32,
    /// Device-independent features the driver opts into (further limited
    /// by the core and the transport).
    pub independent: Features,
    /// The guest restricts the host's access to its memory (a
    /// confidential guest): a device without `ACCESS_PLATFORM` is refused
    /// ([`dma::addressing`]).
    pub restricted_memory_access: bool,
}

impl Default for InitOptions {
    fn default() -> Self {
        Self {
            reset_poll_limit: 1000,
            config_retries: DEFAULT_CONFIG_RETRIES,
            independent: Features::CORE_DEFAULT,
            restricted_memory_access: false,
        }
    }
}

/// Where a [`DeviceInit`] is in the sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Features read, not yet negotiated: configuration is read-only.
    Negotiating,
    /// Features accepted (`FEATURES_OK` confirmed on modern interfaces):
    /// device-specific setup.
    FeaturesOk,
    /// `DRIVER_OK` set.
    Live,
    /// Initialization failed and `FAILED` was set.
    Failed,
}

/// A device being initialized. See the [module documentation](self).
pub struct DeviceInit<'t, T: TransportSetup + ?Sized> {
    transport: &'t mut T,
    opts: InitOptions,
    legacy: bool,
    phase: Phase,
    offered: Features,
    accepted: Features,
    addressing: Addressing,
}

/// Sets `FAILED`: the driver gave up on the device (spec §2.1.2). Best
/// effort, since the transport may be what failed. The one place that
/// sets the bit, during initialization and on a live device alike.
pub fn set_failed<T: Transport + ?Sized>(t: &T) {
    let cur = t.read_status().unwrap_or(Status::RESET);
    let _ = t.write_status(cur | Status::FAILED);
}

/// Adds `bits` to the device status (the driver never clears bits).
fn add_status<T: Transport + ?Sized>(t: &T, bits: Status) -> Result<(), TransportError> {
    let cur = t.read_status()?;
    t.write_status(cur | bits)
}

/// Resets the device and waits, at most `limit` polls, for the status to
/// read 0 (spec §2.4.2: the reset is complete when the status reads 0).
/// The one reset of the project: at probe, on removal, and when a driver
/// must stop a device that stopped answering.
pub fn reset_device<T: Transport + ?Sized>(t: &T, limit: u32) -> Result<(), InitError> {
    t.reset()?;
    for _ in 0..core::cmp::max(limit, 1) {
        if t.read_status()? == Status::RESET {
            return Ok(());
        }
        t.reset_poll_delay();
    }
    Err(InitError::ResetTimeout)
}

/// How a device was stopped before its buffers are taken back
/// ([`stop_device`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// The device reset: it no longer touches any buffer.
    Reset,
    /// It did not reset, but the transport cut off its DMA (PCI: bus
    /// mastering off).
    DmaOff,
    /// It did not reset and its DMA could not be stopped (virtio-mmio has
    /// no means): it may still read and write every buffer it was given.
    Running,
}

impl Stopped {
    /// Whether the driver may take its buffers back and hand their memory
    /// to its owners. When it may not, the buffers must stay the device's
    /// for good: leaked, never completed and reused.
    pub fn may_reclaim(self) -> bool {
        self != Self::Running
    }
}

/// Stops a device before the driver takes back the buffers it holds: a
/// bounded reset ([`reset_device`]), and when the device does not come out
/// of it, `stop_dma`, the transport's way of cutting off its DMA, which
/// returns whether it could. The one place that decides whether buffers
/// may be reclaimed from a device that may not have stopped (spec §3.3.1:
/// the buffers of a live queue must not be reclaimed).
pub fn stop_device<T: Transport + ?Sized>(
    t: &T,
    limit: u32,
    stop_dma: impl FnOnce() -> bool,
) -> Stopped {
    if reset_device(t, limit).is_ok() {
        Stopped::Reset
    } else if stop_dma() {
        Stopped::DmaOff
    } else {
        Stopped::Running
    }
}

impl<'t, T: TransportSetup + ?Sized> DeviceInit<'t, T> {
    /// Steps 1 to 4a: resets the device, sets `ACKNOWLEDGE` and `DRIVER`
    /// and reads the device features.
    pub fn begin(transport: &'t mut T, opts: InitOptions) -> Result<Self, InitError> {
        let legacy = transport.kind().is_legacy();
        let mut this = Self {
            transport,
            opts,
            legacy,
            phase: Phase::Failed,
            offered: Features::EMPTY,
            accepted: Features::EMPTY,
            addressing: Addressing::Physical,
        };
        match this.begin_steps() {
            Ok(()) => {
                this.phase = Phase::Negotiating;
                Ok(this)
            }
            Err(e) => {
                // `phase` is `Failed`: set the bit here, not again in drop.
                set_failed(this.transport);
                Err(e)
            }
        }
    }

    fn begin_steps(&mut self) -> Result<(), InitError> {
        reset_device(self.transport, self.opts.reset_poll_limit)?;
        add_status(self.transport, Status::ACKNOWLEDGE)?;
        add_status(self.transport, Status::DRIVER)?;
        let words = self.transport.kind().feature_words();
        let mut offered = Features::EMPTY;
        for w in 0..words {
            // CAST: `w < Features::WORDS`.
            let v = self.transport.read_device_features(w as u32)?;
            offered.set_word(w, v);
        }
        self.offered = offered;
        Ok(())
    }

    /// Records a failure: sets `FAILED` and returns `e`.
    fn fail_with(&mut self, e: InitError) -> InitError {
        if self.phase != Phase::Failed && self.phase != Phase::Live {
            self.phase = Phase::Failed;
            set_failed(self.transport);
        }
        e
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Returns `true` for a legacy interface.
    pub fn is_legacy(&self) -> bool {
        self.legacy
    }

    /// The features the device offers.
    pub fn offered(&self) -> Features {
        self.offered
    }

    /// The accepted features once negotiated.
    pub fn negotiated(&self) -> Option<Features> {
        match self.phase {
            Phase::FeaturesOk | Phase::Live => Some(self.accepted),
            Phase::Negotiating | Phase::Failed => None,
        }
    }

    /// How the device addresses memory, once negotiated (from the
    /// accepted features: [`dma::addressing`]).
    pub fn addressing(&self) -> Option<Addressing> {
        self.negotiated().map(|_| self.addressing)
    }

    /// Reads the configuration consistently (allowed in every phase but
    /// `Failed`). A failure here does not fail the initialization: the
    /// driver decides.
    pub fn read_config<R, F>(&mut self, read: F) -> Result<R, InitError>
    where
        R: PartialEq,
        F: FnMut(&mut ConfigReader<'_, T>) -> Result<R, TransportError>,
    {
        if self.phase == Phase::Failed {
            return Err(InitError::WrongPhase);
        }
        Ok(read_consistent(
            &*self.transport,
            self.opts.config_retries,
            read,
        )?)
    }

    /// Steps 4b to 6: negotiates with `driver`, decides the addressing
    /// ([`dma::addressing`]: a device the guest cannot share memory with is
    /// refused before anything is written), writes the driver features
    /// and, on modern interfaces, sets `FEATURES_OK` and checks that the
    /// device kept it. Returns the accepted features.
    pub fn negotiate(&mut self, driver: &DriverFeatures<'_>) -> Result<Features, InitError> {
        if self.phase != Phase::Negotiating {
            return Err(self.fail_with(InitError::WrongPhase));
        }
        match self.negotiate_steps(driver) {
            Ok(f) => {
                self.accepted = f;
                self.phase = Phase::FeaturesOk;
                Ok(f)
            }
            Err(e) => Err(self.fail_with(e)),
        }
    }

    fn negotiate_steps(&mut self, driver: &DriverFeatures<'_>) -> Result<Features, InitError> {
        let independent = self
            .opts
            .independent
            .intersection(self.transport.supported_features());
        let accepted = negotiate(self.offered, driver, independent, self.legacy)?;
        self.addressing = dma::addressing(accepted, self.opts.restricted_memory_access)
            .map_err(InitError::Addressing)?;
        let words = self.transport.kind().feature_words();
        for w in 0..words {
            // CAST: `w < Features::WORDS`.
            self.transport
                .write_driver_features(w as u32, accepted.word(w))?;
        }
        if !self.legacy {
            add_status(self.transport, Status::FEATURES_OK)?;
            let status = self.transport.read_status()?;
            if status.contains(Status::DEVICE_NEEDS_RESET) {
                return Err(InitError::DeviceNeedsReset);
            }
            if !status.contains(Status::FEATURES_OK) {
                return Err(InitError::FeaturesRejected);
            }
        }
        Ok(accepted)
    }

    /// Checks a configuration write is allowed now.
    fn check_config_write(&mut self) -> Result<(), InitError> {
        match self.phase {
            Phase::FeaturesOk => Ok(()),
            // Transitional devices accept configuration writes before
            // feature negotiation on the legacy interface (spec §3.1.2).
            Phase::Negotiating if self.legacy => Ok(()),
            Phase::Negotiating => Err(self.fail_with(InitError::ConfigWriteBeforeFeaturesOk)),
            Phase::Live | Phase::Failed => Err(InitError::WrongPhase),
        }
    }

    /// Writes a `u8` of configuration.
    ///
    /// Before `FEATURES_OK` on a modern interface the write does not reach
    /// the device: it fails with [`InitError::ConfigWriteBeforeFeaturesOk`]
    /// and the initialization is failed (`FAILED` set).
    pub fn write_config_u8(&mut self, offset: usize, value: u8) -> Result<(), InitError> {
        self.check_config_write()?;
        Ok(self.transport.write_config_u8(offset, value)?)
    }

    /// Writes a `u16` of configuration (refused before `FEATURES_OK`).
    pub fn write_config_u16(&mut self, offset: usize, value: u16) -> Result<(), InitError> {
        self.check_config_write()?;
        Ok(self.transport.write_config_u16(offset, value)?)
    }

    /// Writes a `u32` of configuration (refused before `FEATURES_OK`).
    pub fn write_config_u32(&mut self, offset: usize, value: u32) -> Result<(), InitError> {
        self.check_config_write()?;
        Ok(self.transport.write_config_u32(offset, value)?)
    }

    /// Writes a `u64` of configuration (refused before `FEATURES_OK`).
    pub fn write_config_u64(&mut self, offset: usize, value: u64) -> Result<(), InitError> {
        self.check_config_write()?;
        Ok(self.transport.write_config_u64(offset, value)?)
    }

    /// The transport, for device-specific setup (queue discovery and
    /// activation). Only available after `FEATURES_OK`.
    pub fn transport(&mut self) -> Result<&mut T, InitError> {
        match self.phase {
            Phase::FeaturesOk => Ok(self.transport),
            Phase::Negotiating | Phase::Live | Phase::Failed => Err(InitError::WrongPhase),
        }
    }

    /// Step 8: sets `DRIVER_OK`. The device is live afterwards; the driver
    /// may notify queues from now on. Returns the negotiated features.
    pub fn driver_ok(mut self) -> Result<Features, InitError> {
        if self.phase != Phase::FeaturesOk {
            return Err(self.fail_with(InitError::WrongPhase));
        }
        if let Err(e) = add_status(self.transport, Status::DRIVER_OK) {
            return Err(self.fail_with(e.into()));
        }
        self.phase = Phase::Live;
        Ok(self.accepted)
    }

    /// Gives up: sets `FAILED`. The device must be reset before another
    /// attempt (spec §2.1.1).
    pub fn fail(mut self) {
        let _ = self.fail_with(InitError::WrongPhase);
    }
}

impl<T: TransportSetup + ?Sized> Drop for DeviceInit<'_, T> {
    fn drop(&mut self) {
        if self.phase == Phase::Negotiating || self.phase == Phase::FeaturesOk {
            self.phase = Phase::Failed;
            set_failed(self.transport);
        }
    }
}

/// Failure of [`initialize`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitFailure<E> {
    /// The core sequence failed.
    Init(InitError),
    /// The driver's setup callback failed.
    Setup(E),
}

/// Runs the whole initialization sequence.
///
/// `probe` runs during negotiation with read-only configuration access
/// and may reject the device (spec §3.1.1 step 4). `setup` runs after
/// `FEATURES_OK` to discover and activate queues and write configuration.
/// On any failure `FAILED` is set. On success `DRIVER_OK` is set and the
/// negotiated features and the setup result are returned.
pub fn initialize<T, R, E, P, S>(
    transport: &mut T,
    opts: InitOptions,
    driver: &DriverFeatures<'_>,
    probe: P,
    setup: S,
) -> Result<(Features, R), InitFailure<E>>
where
    T: TransportSetup + ?Sized,
    P: FnOnce(&mut DeviceInit<'_, T>) -> Result<(), E>,
    S: FnOnce(&mut DeviceInit<'_, T>, Features) -> Result<R, E>,
{
    let mut init = DeviceInit::begin(transport, opts).map_err(InitFailure::Init)?;
    probe(&mut init).map_err(InitFailure::Setup)?;
    let features = init.negotiate(driver).map_err(InitFailure::Init)?;
    let r = setup(&mut init, features).map_err(InitFailure::Setup)?;
    let features = init.driver_ok().map_err(InitFailure::Init)?;
    Ok((features, r))
}
