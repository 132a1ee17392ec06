//! What filter banks and compressor groups share: their member lists.

/// The members of a group (render indices, in render order) and which of
/// them were loaded this block.
pub(crate) struct Members {
    render: Box<[usize]>,
    loaded: Box<[bool]>,
}

impl Members {
    pub(crate) fn new(render: Vec<usize>) -> Self {
        Self { loaded: vec![false; render.len()].into_boxed_slice(), render: render.into() }
    }

    /// Records whether member `m` was loaded this block.
    pub(crate) fn set_loaded(&mut self, m: usize, loaded: bool) {
        if let Some(l) = self.loaded.get_mut(m) {
            *l = loaded;
        }
    }

    /// Number of members.
    pub(crate) fn len(&self) -> usize {
        self.render.len()
    }

    /// Whether any member was loaded this block.
    pub(crate) fn any_loaded(&self) -> bool {
        self.loaded.iter().any(|&l| l)
    }

    /// `(member, render index)` of the members loaded this block.
    pub(crate) fn loaded(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.render.iter().zip(self.loaded.iter()).enumerate().filter(|(_, (_, &l))| l).map(|(m, (&k, _))| (m, k))
    }
}
