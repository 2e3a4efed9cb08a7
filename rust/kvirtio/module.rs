// SPDX-License-Identifier: GPL-2.0

//! [`module_virtio_driver!`](crate::module_virtio_driver): a virtio driver
//! module, registered with every bus the project supports.
//!
//! A module registers one driver per bus for its device type:
//!
//! - PCI: the transitional (`0x1000 + n`) and modern (`0x1040 + id`)
//!   device ids of its type, so `modinfo` lists them and udev (or mdev)
//!   autoloads the module for a matching device.
//! - platform (virtio-mmio): ACPI `LNRO0005` and device-tree
//!   `virtio,mmio`, which every virtio-mmio device has whatever its type
//!   (the driver refuses other types silently, see
//!   [`mmio`](crate::kvirtio::mmio)), and by name the devices of the
//!   module's `device` parameter (`<size>@<base>:<irq>[:<id>]`, see
//!   [`mmio::cmdline`](crate::kvirtio::mmio::cmdline)), which the module
//!   creates at load for the entries of its own type and removes at exit.
//!
//! The module's driver on each bus binds only devices of its own type,
//! so several rvirtio modules can be loaded side by side.

/// Declares a virtio driver module: the module around the driver, and the
/// driver registered on every supported bus (see the
/// [module documentation](crate::kvirtio::module)). Other `module!` fields
/// (`params`, ...) pass through.
///
/// ```ignore
/// kvirtio::module_virtio_driver! {
///     type: RvirtioRng,
///     name: "rvirtio_rng",
///     authors: ["rvirtio developers"],
///     description: "virtio entropy device",
///     license: "GPL",
/// }
/// ```
#[macro_export]
macro_rules! module_virtio_driver {
    (type: $drv:ty, name: $name:literal, $($rest:tt)*) => {
        ::kernel::pci_device_table!(
            RVIRTIO_PCI_TABLE,
            MODULE_PCI_TABLE,
            (),
            [
                (
                    ::kernel::pci::DeviceId::from_id(
                        ::kernel::pci::Vendor::REDHAT_QUMRANET,
                        $crate::kvirtio::pci::transitional_or_modern(
                            <$drv as $crate::kvirtio::driver::Driver>::DEVICE_ID,
                        ),
                    ),
                    (),
                ),
                (
                    ::kernel::pci::DeviceId::from_id(
                        ::kernel::pci::Vendor::REDHAT_QUMRANET,
                        $crate::kvirtio::pci::modern_id(
                            <$drv as $crate::kvirtio::driver::Driver>::DEVICE_ID,
                        ),
                    ),
                    (),
                ),
            ]
        );
        impl $crate::kvirtio::pci::PciIds for $drv {
            const PCI_TABLE: ::kernel::pci::IdTable<()> = &RVIRTIO_PCI_TABLE;
        }
        ::kernel::of_device_table!(
            RVIRTIO_OF_TABLE,
            MODULE_OF_TABLE,
            (),
            [(::kernel::of::DeviceId::new(c"virtio,mmio"), ())]
        );
        ::kernel::acpi_device_table!(
            RVIRTIO_ACPI_TABLE,
            MODULE_ACPI_TABLE,
            (),
            [(::kernel::acpi::DeviceId::new(c"LNRO0005"), ())]
        );
        impl $crate::kvirtio::mmio::MmioIds for $drv {
            const OF_TABLE: ::kernel::of::IdTable<()> = &RVIRTIO_OF_TABLE;
            const ACPI_TABLE: ::kernel::acpi::IdTable<()> = &RVIRTIO_ACPI_TABLE;
        }

        /// The module: one driver registration per bus, and the devices of
        /// the `device` parameter. Fields are initialised and dropped in
        /// order: the parameter's devices go before the platform driver.
        #[::kernel::prelude::pin_data]
        struct VirtioModule {
            _mmio_devices: $crate::kvirtio::mmio::cmdline::CmdlineDevices,
            #[pin]
            _pci: ::kernel::driver::Registration<
                ::kernel::pci::Adapter<$crate::kvirtio::pci::PciAdapter<$drv>>,
            >,
            #[pin]
            _mmio: ::kernel::driver::Registration<
                ::kernel::platform::Adapter<$crate::kvirtio::mmio::MmioAdapter<$drv>>,
            >,
            // Created first, removed last: every device's directory is in it.
            _debugfs: $crate::kvirtio::debugfs::Root,
            _abi: $crate::kvirtio::module::HelpersAbi,
        }

        impl ::kernel::InPlaceModule for VirtioModule {
            fn init(
                module: &'static ::kernel::ThisModule,
            ) -> impl ::pin_init::PinInit<Self, ::kernel::error::Error> {
                ::kernel::try_pin_init!(Self {
                    _abi <- $crate::kvirtio::module::HelpersAbi::check(),
                    _debugfs: $crate::kvirtio::debugfs::Root::new(
                        <Self as ::kernel::ModuleMetadata>::NAME,
                    ),
                    _mmio_devices <- $crate::kvirtio::mmio::cmdline::CmdlineDevices::register(
                        <Self as ::kernel::ModuleMetadata>::NAME,
                        <$drv as $crate::kvirtio::driver::Driver>::DEVICE_ID,
                    ),
                    _pci <- ::kernel::driver::Registration::new(
                        <Self as ::kernel::ModuleMetadata>::NAME,
                        module,
                    ),
                    _mmio <- ::kernel::driver::Registration::new(
                        <Self as ::kernel::ModuleMetadata>::NAME,
                        module,
                    ),
                })
            }
        }

        ::kernel::prelude::module! {
            type: VirtioModule,
            name: $name,
            $($rest)*
        }
    };
}

/// Proof that the module's C helpers implement the ABI its Rust
/// declarations expect (`kext::HELPERS_ABI`); the module refuses to load
/// otherwise, before any driver is registered.
pub struct HelpersAbi(());

impl HelpersAbi {
    /// Checks the ABI of the linked helpers.
    pub fn check() -> Result<Self, kernel::error::Error> {
        if crate::kext::helpers_abi_matches() {
            Ok(Self(()))
        } else {
            kernel::pr_err!(
                "C helpers do not implement helper ABI {}: a mismatched build\n",
                crate::kext::HELPERS_ABI
            );
            Err(kernel::error::code::EINVAL)
        }
    }
}
